"""The Colab tutorials in colab/: each is self-contained (a guarded install cell, a `parameters` cell, the stored
outputs of its reference run) and runs top to bottom under papermill, offline, against the local package with small parameters.
Each run is then checked for what the tutorial promises: figures, tables and the files it writes."""
import importlib.util, json, re
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLAB = ROOT / 'colab'
NOTEBOOKS = sorted(p.stem for p in COLAB.glob('*.ipynb'))

# small parameters: each run stays around a minute on a quiet 2-core machine
SMALL = {
    '01_quickstart': dict(limit=300, epochs=1, max_minutes=0.5, progress=False, smiles=['CCO', 'c1ccccc1', 'CC(=O)N']),
    '02_mof_inference': dict(n_mofs=10, progress=False),
    '03_explain': dict(umap_molecules=200, methods=['gradcam', 'saliency'], progress=False),
    '04_md': dict(nve_steps=20, langevin_steps=40, save_every=5, progress=False),
}
MODULES = {'03_explain': 'molcryst.explain', '04_md': 'molcryst.md'}
MODELS = {'01_quickstart': 'schnet-qm9-homo', '02_mof_inference': 'cgcnn-coremof-vf', '03_explain': 'schnet-qm9-homo',
          '04_md': 'et-ethanol-xtb'}


def _nb(name):
    return json.loads((COLAB / f'{name}.ipynb').read_text())


def _src(cell):
    s = cell['source']
    return ''.join(s) if isinstance(s, list) else s


def test_there_are_the_four_tutorials():
    assert {'01_quickstart', '02_mof_inference', '03_explain', '04_md'} <= set(NOTEBOOKS)
    assert set(NOTEBOOKS) <= set(SMALL), f'give every tutorial small test parameters in SMALL: {set(NOTEBOOKS) - set(SMALL)}'


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_tutorial_is_self_contained_for_colab(name):
    nb = _nb(name)
    assert nb['metadata']['kernelspec']['name'] == 'python3'
    cells = nb['cells']
    assert cells[0]['cell_type'] == 'markdown' and re.match(r'# \S', _src(cells[0])), 'opens with a title'
    assert f'colab.research.google.com/github/molcryst/molcryst/blob/main/colab/{name}.ipynb' in _src(cells[0]), 'an Open-in-Colab badge'
    code = [c for c in cells if c['cell_type'] == 'code']
    install = code[0]
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    assert f"git+{cfg['DEFAULT']['git_url']}" in _src(install), 'the first code cell installs from the repository'
    assert "find_spec('molcryst') is None" in _src(install), 'the install is skipped where molcryst is importable'
    params = [c for c in code if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(params) == 1 and code.index(params[0]) == 1, 'the second code cell holds the papermill parameters'
    for k in SMALL[name]:
        assert re.search(rf'^{k}\s*=', _src(params[0]), re.M), f'test parameter {k!r} is not a parameter of {name}'
    _stored_outputs(name, nb, code)
    text = '\n'.join(_src(c) for c in cells)
    assert 'opt.' not in text and '!mv' not in text and 'os.chdir' not in text, "none of the seed's file moving or opt objects"


def _stored_outputs(name, nb, code):
    "Stored with the outputs of its reference run (`scripts/execute_tutorials.py`): figures and tables, no errors, no progress bars, small."
    assert re.search(r'\*Outputs stored from a run on .+ min with the parameters below .*scripts/execute_tutorials\.py ' + name, _src(nb['cells'][0])), \
        'the first cell says where the stored outputs come from'
    outs = [o for c in code for o in c.get('outputs', [])]
    assert not code[0].get('outputs'), 'the install cell did nothing in the reference run'
    assert not [o for o in outs if o.get('output_type') == 'error'], 'no error in the stored run'
    assert any('image/png' in o.get('data', {}) for o in outs), 'stored figures'
    html = lambda o: ''.join(o.get('data', {}).get('text/html', ''))     # nbformat keeps text as a list of lines
    assert any('<table' in html(o) for o in outs), 'stored tables'
    assert not any('injected-parameters' in c.get('metadata', {}).get('tags', []) for c in nb['cells']), 'the parameters cell shows the defaults'
    streams = ''.join(o['text'] if isinstance(o['text'], str) else ''.join(o['text']) for o in outs if o.get('output_type') == 'stream')
    assert '\r' not in streams and 'it/s]' not in streams, 'no progress bars in the stored outputs'
    assert (COLAB / f'{name}.ipynb').stat().st_size < 1_500_000, 'small in the repository'


def _outputs(nb):
    for c in nb.cells:
        for o in c.get('outputs', []):
            yield c, o


def _text(nb):
    out = []
    for _, o in _outputs(nb):
        if o.get('output_type') == 'stream' and o.get('name') == 'stdout': out.append(o['text'])
        elif 'data' in o: out.append(o['data'].get('text/plain', ''))
    return '\n'.join(out)


def _requirements(name):
    if name in MODULES and importlib.util.find_spec(MODULES[name]) is None:
        pytest.skip(f'{MODULES[name]} is not importable yet (its notebook has not been exported)')
    from molcryst.pretrained import PRETRAINED_DIR
    if not (PRETRAINED_DIR / f'{MODELS[name]}.ckpt').exists():
        pytest.skip(f'the shipped model {MODELS[name]!r} is not in molcryst/data/pretrained yet')


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_tutorial_runs_under_papermill(name, tmp_path, monkeypatch):
    _requirements(name)
    pm = pytest.importorskip('papermill')
    monkeypatch.setenv('MPLBACKEND', 'module://matplotlib_inline.backend_inline')   # figures as outputs, as on Colab
    monkeypatch.setenv('WANDB_MODE', 'offline')
    nb = pm.execute_notebook(str(COLAB / f'{name}.ipynb'), str(tmp_path / f'{name}.ipynb'), parameters=SMALL[name],
                             cwd=str(tmp_path), kernel_name='python3', progress_bar=False, execution_timeout=600)
    code = [c for c in nb.cells if c.cell_type == 'code']
    assert not [o for c in code for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert not code[0].get('outputs'), 'the install cell did nothing here (molcryst is importable)'
    assert any('injected-parameters' in c.metadata.get('tags', []) for c in nb.cells)
    images = [o for _, o in _outputs(nb) if 'image/png' in o.get('data', {})]
    tables = [o for _, o in _outputs(nb) if 'text/html' in o.get('data', {}) and '<table' in o['data']['text/html']]
    assert images and tables, f'{name}: {len(images)} figures, {len(tables)} tables'
    text = _text(nb)
    if name == '01_quickstart':
        run = tmp_path / 'runs' / 'quickstart'
        assert (run / 'checkpoints' / 'best.ckpt').exists() and (run / 'metrics.json').exists()
        assert all(s in text for s in SMALL[name]['smiles']), 'a prediction row per SMILES'
        assert re.search(r'test homo MAE \d', text)
    elif name == '02_mof_inference':
        aside = int(re.search(r'^(\d+) with overlapping sites set aside; predicting (\d+)', text, re.M).group(1))
        assert re.search(rf"^{SMALL[name]['n_mofs'] - aside} structures \([\d,]+ atoms\) in [\d.]+ s", text, re.M)
        assert 'held-out test split' in text
    elif name == '03_explain':
        out = tmp_path / 'runs' / 'explain-tutorial'
        assert (out / 'umap.html').stat().st_size > 10_000 and (out / 'umap.png').exists()
        assert len(list(out.glob('gradcam-*.png'))) == 3 and len(list(out.glob('saliency-*.png'))) == 3
        assert re.search(r'R² = -?\d\.\d{3} \(shuffled', text) and 'Morgan fingerprints' in text
    elif name == '04_md':
        out = tmp_path / 'runs' / 'md-tutorial'
        assert (out / 'nve.traj').exists() and (out / 'langevin.traj').exists()
        assert 'finished' in text and 'C-O' in text and 'wasserstein' in text
