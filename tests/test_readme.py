"README.md is generated from nbs/index.ipynb and must stay in sync with it."
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_in_sync():
    r = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'make_readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_has_the_two_commands():
    text = (ROOT / 'README.md').read_text()
    assert 'bash scripts/main.sh' in text and 'bash scripts/test.sh' in text
    ci = (ROOT / '.ci' / 'run').read_text()
    assert 'bash scripts/test.sh' in ci


def _main_job_command()->str:
    "The papermill command of scripts/main.sh, its continuation lines joined."
    lines, out = (ROOT / 'scripts' / 'main.sh').read_text().splitlines(), []
    start = next(i for i, l in enumerate(lines) if l.startswith('papermill '))
    for l in lines[start:]:
        out.append(l.rstrip().rstrip('\\'))
        if not l.rstrip().endswith('\\'): break
    return ' '.join(out)


def test_main_job_streams_epochs_and_keeps_figures(tmp_path):
    "The main job's own papermill line, at a tiny scale: one line per epoch reaches the terminal, figures are inline."
    import json, os
    cmd = _main_job_command().replace('runs/main', str(tmp_path / 'main')).replace('"$@"', '')
    cmd += ' -p limit 200 -p epochs 2 -p max_minutes 2'
    env = {**os.environ, 'MPLBACKEND': 'module://matplotlib_inline.backend_inline', 'PATH': f'{Path(sys.executable).parent}:{os.environ["PATH"]}'}
    r = subprocess.run(['bash', '-c', f'mkdir -p {tmp_path}/main && {cmd}'], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    epochs = [l for l in r.stdout.splitlines() if l.startswith('epoch ')]
    assert [l[:9] for l in epochs] == ['epoch 1/2', 'epoch 2/2'], r.stdout[-3000:]
    assert 'left' in epochs[0] and 'val MAE homo' in epochs[0]
    assert 'Executing:' not in r.stderr, 'the papermill bar would interleave with the epoch lines'
    nb = json.loads((tmp_path / 'main' / '10_train.ipynb').read_text())
    images = [o for c in nb['cells'] for o in c.get('outputs', []) if 'image/png' in o.get('data', {})]
    assert images, 'the executed notebook shows its figures inline'
    assert (tmp_path / 'main' / 'metrics.json').exists() and (tmp_path / 'main' / 'curves_parity.png').exists()
