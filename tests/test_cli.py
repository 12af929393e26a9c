"The `molcryst` command as a user runs it: a subprocess, exit codes, one-line errors."
import json, os, shutil, subprocess, sys
from pathlib import Path


MOLCRYST = shutil.which('molcryst', path=str(Path(sys.executable).parent)) or shutil.which('molcryst')


def run(*args, env=None):
    "The installed console script, as a user runs it."
    assert MOLCRYST, 'the molcryst console script is not installed (pip install -e .)'
    return subprocess.run([MOLCRYST, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_help_lists_commands():
    r = run('--help')
    assert r.returncode == 0 and 'data' in r.stdout


def test_data_qm9_json():
    r = run('data', 'qm9', '--limit', '50', '--json', '-q')
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s['structures'] == 50 and s['targets']['homo']['unit'] == 'eV'
    assert Path(s['cache']).exists()


def test_data_cif_folder(tmp_path, nacl_cif):
    (tmp_path / 'id_prop.csv').write_text('nacl,1.5\n')
    r = run('data', 'cif', '--root', str(tmp_path), '--cutoff', '6', '-q')
    assert r.returncode == 0, r.stderr
    assert '1 structures (periodic)' in r.stdout


def test_unknown_dataset_is_one_line_exit_2():
    r = run('data', 'qm7', '-q')
    assert r.returncode == 2
    assert r.stderr.strip().startswith("molcryst data: error: unknown dataset 'qm7'; valid datasets: qm9")
    assert 'Traceback' not in r.stderr


def test_bad_cutoff_and_missing_file(tmp_path):
    r = run('data', 'qm9', '--cutoff', '-1', '-q')
    assert r.returncode == 2 and 'cutoff must be positive' in r.stderr
    r = run('data', 'cif', '--root', str(tmp_path), '-q')
    assert r.returncode == 2 and f'{tmp_path}/id_prop.csv: file not found' in r.stderr
