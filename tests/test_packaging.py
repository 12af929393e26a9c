"""Packaging: one version everywhere, a CHANGELOG entry for it, every data file in the wheel, and the command
line listing the sub-commands of the modules that exist."""
import ast, fnmatch, importlib.util, re, shutil, subprocess, sys, zipfile
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cfg():
    c = ConfigParser(delimiters=['=']); c.read(ROOT / 'settings.ini', encoding='utf-8')
    return c['DEFAULT']


def _package_data()->list:
    "The `package_data` patterns of setup.py, read without running it."
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'package_data':
            return ast.literal_eval(node.value)['molcryst']
    raise AssertionError('setup.py has no package_data')


def _data_files()->list:
    return sorted(p.relative_to(ROOT / 'molcryst').as_posix() for p in (ROOT / 'molcryst' / 'data').rglob('*')
                  if p.is_file() and not p.name.startswith('.') and '__pycache__' not in p.parts)


def test_version_is_the_same_everywhere():
    import molcryst
    v = _cfg()['version']
    assert re.fullmatch(r'\d+\.\d+\.\d+', v)
    assert molcryst.__version__ == v
    assert f'__version__ = "{v}"' in (ROOT / 'molcryst' / '__init__.py').read_text()
    log = (ROOT / 'CHANGELOG.md').read_text()
    first = re.search(r'^## (\d+\.\d+\.\d+)', log, re.M)
    assert first and first.group(1) == v, 'the newest CHANGELOG entry is the current version'


def test_every_data_file_is_package_data():
    pats = _package_data()
    files = _data_files()
    assert any(f.endswith('.ckpt') for f in files) and any(f.endswith('.npz') for f in files)
    missing = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in pats)]
    assert not missing, f'in molcryst/data but not in setup.py package_data (so not in the wheel): {missing}'


def test_every_shipped_checkpoint_has_a_card():
    d = ROOT / 'molcryst' / 'data' / 'pretrained'
    ckpts, cards = {p.stem for p in d.glob('*.ckpt')}, {p.stem for p in d.glob('*.yaml')}
    assert ckpts and ckpts == cards, f'checkpoints without a card: {ckpts - cards}; cards without a checkpoint: {cards - ckpts}'


def test_help_lists_the_commands_of_existing_modules():
    r = subprocess.run([sys.executable, '-c', 'import sys; from molcryst.cli import main; sys.exit(main(["--help"]))'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    want = {'data', 'train', 'predict'} | {cmd for cmd, mod in (('tune', 'hpo'), ('explain', 'explain'), ('md', 'md'))
                                           if importlib.util.find_spec(f'molcryst.{mod}') is not None}
    listed = set(re.findall(r'^\s{4}(\w+)\s', r.stdout, re.M))
    assert want <= listed, f'missing from molcryst --help: {want - listed}\n{r.stdout}'


def test_wheel_carries_the_data_and_the_command(tmp_path):
    "A real wheel build (no network: the build backend of this environment) and its file list."
    pytest.importorskip('setuptools'); pytest.importorskip('wheel')
    build = tmp_path / 'src'
    shutil.copytree(ROOT, build, ignore=shutil.ignore_patterns('.git', '.venv', '_docs', '_proc', 'runs', '*.egg-info', 'build',
                                                               'dist', '.cache', '__pycache__', 'benchmarks'))
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path / 'whl'), str(build)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    whl = next((tmp_path / 'whl').glob('molcryst-*.whl'))
    assert whl.name.startswith(f"molcryst-{_cfg()['version']}-")
    names = set(zipfile.ZipFile(whl).namelist())
    missing = [f for f in _data_files() if f'molcryst/{f}' not in names]
    assert not missing, f'not in the wheel: {missing}'
    for mod in ('molcryst/models/cgcnn.py', 'molcryst/training.py', 'molcryst/pretrained.py', 'molcryst/cli.py', 'molcryst/_modidx.py'):
        assert mod in names
    ep = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'molcryst = molcryst.cli:main' in zipfile.ZipFile(whl).read(ep).decode()


def _norm(name:str)->str: return re.sub(r'[-_.]+', '-', name).lower()


def _requirement_closure()->set:
    "settings.ini's requirements and its extras' (hpo, explain, md, wandb) and, from the installed metadata, everything they pull in (their own extras left out)."
    from importlib.metadata import PackageNotFoundError, distribution
    cfg = _cfg()
    reqs = cfg['requirements'].split() + [r for k in cfg if k.endswith('_requirements') and k != 'dev_requirements' for r in cfg[k].split()]
    todo = [re.split(r'[<>=!~;\[ ]', r)[0] for r in reqs]
    seen = set()
    while todo:
        n = _norm(todo.pop())
        if n in seen: continue
        seen.add(n)
        try: reqs = distribution(n).requires or []
        except PackageNotFoundError: continue
        todo += [re.split(r'[<>=!~;\[ (]', r.strip())[0] for r in reqs if 'extra ==' not in r]
    return seen


def _imports(path:Path)->set:
    "Top-level names imported anywhere in a module, except under `try: ... except ImportError` (optional)."
    out = set()
    def visit(node, optional=False):
        if isinstance(node, ast.Try):
            opt = any(isinstance(h.type, ast.Name) and h.type.id in ('ImportError', 'ModuleNotFoundError') for h in node.handlers)
            for n in node.body: visit(n, optional or opt)
            for n in node.handlers + node.orelse + node.finalbody: visit(n, optional)
            return
        if not optional:
            if isinstance(node, ast.Import): out.update(a.name.split('.')[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module: out.add(node.module.split('.')[0])
        for n in ast.iter_child_nodes(node): visit(n, optional)
    visit(ast.parse(path.read_text()))
    return out


def test_runtime_imports_come_with_the_requirements():
    "A fresh `pip install molcryst` (no dev extra) must be able to import every module: no nbdev/fastcore at run time."
    from importlib.metadata import packages_distributions
    dists, closure = packages_distributions(), _requirement_closure()
    bad = {}
    for f in sorted((ROOT / 'molcryst').rglob('*.py')):
        for top in _imports(f) - set(sys.stdlib_module_names) - {'molcryst', '__future__'}:
            if not any(_norm(d) in closure for d in dists.get(top, [])):
                bad.setdefault(top, []).append(f.relative_to(ROOT).as_posix())
    assert not bad, f'imported but not installed by settings.ini requirements (or their dependencies): {bad}'


EXTRA_MODULES = {'deephyper': 'hpo', 'umap': 'explain', 'rogi': 'explain', 'captum': 'explain', 'py3Dmol': 'explain',
                 'plotly': 'explain', 'tblite': 'md', 'wandb': 'wandb'}

def test_extras_are_declared():
    "Every optional module the code imports belongs to a declared extra, and `all`/`dev` hold every extra."
    cfg = _cfg()
    for extra in set(EXTRA_MODULES.values()): assert cfg.get(f'{extra}_requirements'), f'settings.ini has no {extra}_requirements'
    core = {_norm(re.split(r'[<>=!~;\[ ]', r)[0]) for r in cfg['requirements'].split()}
    for pkg in ('deephyper', 'umap-learn', 'captum', 'py3dmol', 'tblite', 'wandb', 'rogi', 'plotly'):
        assert pkg not in core, f'{pkg} is an optional part, not a core requirement'


def test_core_install_imports_and_names_the_extra(tmp_path):
    "With no extra installed (their modules hidden), every molcryst module imports, training and prediction work, and each optional part says which extra to install."
    script = tmp_path / 'noextras.py'
    script.write_text(f"""
import importlib, importlib.abc, pkgutil, sys
HIDDEN = {sorted(EXTRA_MODULES)!r}
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in HIDDEN: raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
import molcryst
mods = [m.name for m in pkgutil.walk_packages(molcryst.__path__, 'molcryst.') if m.name != 'molcryst._modidx']
for m in mods: importlib.import_module(m)
assert not any(m.split('.')[0] in HIDDEN for m in sys.modules), [m for m in sys.modules if m.split('.')[0] in HIDDEN]
from molcryst.core import MissingExtraError
from molcryst.training import predict
print(predict('schnet-qm9-homo', ['CCO']).homo.round(3).tolist())
from molcryst.explain import umap_project
try: umap_project(__import__('numpy').random.rand(20, 4)); print('no error')
except MissingExtraError as e: print('extra:', e)
from molcryst.hpo import tune
try: tune(dict(dataset_kwargs=dict(limit=50)), max_evals=1, log_dir='{tmp_path}/s', progress=False); print('no error')
except MissingExtraError as e: print('extra:', e)
print('ok', len(mods))
""")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert lines[-1].startswith('ok'), p.stdout
    assert any('molcryst[explain]' in l for l in lines), p.stdout
    assert any('molcryst[hpo]' in l for l in lines), p.stdout
