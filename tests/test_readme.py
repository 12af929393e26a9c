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
