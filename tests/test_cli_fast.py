"""`molcryst COMMAND --help` and argument errors import no torch, torch_geometric, lightning, DeepHyper or ASE.

A property test, not a timing test: each command runs in a fresh interpreter and reports the top-level modules it
imported (`benchmarks/cli.py` times them)."""
import json, subprocess, sys

import pytest

HEAVY = {'torch', 'torch_geometric', 'lightning', 'pytorch_lightning', 'deephyper', 'ase'}
COMMANDS = ('data', 'train', 'predict', 'tune', 'explain', 'md')
PROBE = """import json, sys
from molcryst.cli import main
try: rc = main(sys.argv[1:])
except SystemExit as e: rc = e.code
print(json.dumps({'rc': rc, 'heavy': sorted({m.split('.')[0] for m in sys.modules} & set(%r))}), file=sys.stderr)
""" % sorted(HEAVY)


def probe(*argv):
    "Exit status, heavy modules imported and output of `molcryst *argv` in a fresh interpreter."
    r = subprocess.run([sys.executable, '-c', PROBE, *argv], capture_output=True, text=True, timeout=120)
    return json.loads(r.stderr.strip().splitlines()[-1]), r.stdout + r.stderr


@pytest.mark.parametrize('argv', [('--help',), *[(c, '--help') for c in COMMANDS]], ids=' '.join)
def test_help_imports_no_torch(argv):
    res, out = probe(*argv)
    assert res['rc'] == 0 and 'usage: molcryst' in out, out
    assert res['heavy'] == [], f"molcryst {' '.join(argv)} imported {res['heavy']}"


@pytest.mark.parametrize('argv', [('train', '--no-such-flag'), ('tune', '--no-such-flag'), ('md', 'm', 'ethanol', '--engine', 'fast'),
                                  ('explain', 'm', 'CCO', '--format', 'gif'), ('predict',)], ids=' '.join)
def test_argument_errors_import_no_torch(argv):
    res, out = probe(*argv)
    assert res['rc'] == 2 and 'error:' in out, out
    assert res['heavy'] == [], f"molcryst {' '.join(argv)} imported {res['heavy']}"


def test_static_names_match_the_registries():
    "The names the parsers list without importing their registries are the registries' names."
    from molcryst import calculator, cli, md_analysis, md_cli, attribution
    assert md_cli.ENGINE_NAMES == calculator.ENGINES
    assert md_cli.MOLECULE_NAMES == tuple(md_analysis.MOLECULES)
    assert cli.EXPLAIN_METHODS == attribution.METHODS


def test_moved_names_still_import_from_their_old_modules():
    import molcryst.explain, molcryst.md, molcryst.md_cli, molcryst.cli
    assert molcryst.md.MDSettings is molcryst.md_cli.MDSettings and 'MDSettings' in molcryst.md.__all__
    assert molcryst.md.add_cli is molcryst.md_cli.add_cli and molcryst.md.CLI_ALIASES is molcryst.md_cli.CLI_ALIASES
    assert molcryst.explain.add_cli is molcryst.cli.add_explain_cli and 'add_cli' in molcryst.explain.__all__
