"""What each patch in `molcryst.compat` relies on in another library: these fail when the library changes under it.

Each failure says what to re-check. When a library is upgraded past the range in `compat.TARGETS`, re-check
every patch of its section (the tests below say what each assumes), then widen the range."""
import importlib.metadata, inspect, subprocess, sys, textwrap

import pytest
from packaging.version import Version

from molcryst import compat


@pytest.mark.parametrize('package', sorted(compat.TARGETS))
def test_installed_version_is_the_one_the_patches_were_written_for(package):
    pytest.importorskip(package)
    lo, hi = compat.TARGETS[package]
    v = Version(importlib.metadata.version(package))
    assert Version(lo) <= v < Version(hi), (
        f'{package} {v} is installed; the {package} patches in molcryst.compat were written for {lo} and not checked from '
        f'{hi} on. Re-check each (tests/test_compat.py says what it relies on), then widen compat.TARGETS[{package!r}].')


def test_compat_and_the_space_import_without_deephyper():
    "DeepHyper is an extra: the space, the compat module and `molcryst tune --help` need none of it; a search says what to install."
    code = textwrap.dedent("""
        import sys
        sys.modules['deephyper'] = None                  # as if not installed
        import molcryst.compat, molcryst.hpo_space, molcryst.hpo_trial, molcryst.hpo
        from molcryst.core import MissingExtraError
        assert len(molcryst.hpo.load_space('small')) == 8
        try: molcryst.hpo.tune({'dataset': 'qm9'}, space='small', log_dir='never-made', progress=False)
        except MissingExtraError as e: print('MISSING', e)
        try: molcryst.compat.numeric_reload(None).__enter__()
        except MissingExtraError as e: print('MISSING', e)
    """)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('pip install "molcryst[hpo]"') == 2, r.stdout


# --- DeepHyper --------------------------------------------------------------------------------------------------

def test_random_search_restart_relies_on_search_init():
    "resumable_random_search_class calls the private `Search.__init__` positionally and seeds the space as RandomSearch does."
    pytest.importorskip('deephyper')
    from deephyper.hpo import RandomSearch
    from deephyper.hpo._search import Search
    params = list(inspect.signature(Search.__init__).parameters)
    assert params == ['self', 'problem', 'random_state', 'log_dir', 'verbose', 'stopper', 'checkpoint_history_to_csv',
                      'solution_selection', 'checkpoint_restart'], (
        f'deephyper.hpo._search.Search.__init__ now takes {params}: fix the positional call in '
        'molcryst.compat.resumable_random_search_class')
    assert 'checkpoint_restart' not in inspect.signature(RandomSearch.__init__).parameters, (
        "DeepHyper's RandomSearch now takes checkpoint_restart itself: drop compat.resumable_random_search_class "
        'and pass checkpoint_restart to RandomSearch in molcryst.hpo._make_search')
    assert 'self._problem.space.seed(self._random_state.randint(0, np.iinfo(np.int32).max))' in inspect.getsource(RandomSearch.__init__), (
        'RandomSearch.__init__ no longer seeds the space as resumable_random_search_class repeats: copy what it does now')


def test_random_search_restart_resumes(tmp_path):
    "The patched random search continues a results.csv: the finished rows stay, only the new trials run."
    pytest.importorskip('deephyper')
    import pandas as pd
    from deephyper.evaluator import Evaluator
    from deephyper.hpo import HpProblem
    p = HpProblem(); p.add_hyperparameter((0.0, 1.0), 'x')
    RS = compat.resumable_random_search_class()
    def search(restart, n):
        ev = Evaluator.create(_toy_objective, method='thread', method_kwargs={'num_workers': 1})
        RS(p, random_state=0, log_dir=str(tmp_path), checkpoint_restart=restart).search(ev, max_evals=n, max_evals_strict=True)
    search(False, 3)
    first = pd.read_csv(tmp_path / 'results.csv')
    search(True, len(first) + 2)              # the jobs a restart reloads count as submitted (as in molcryst.hpo._run_search)
    after = pd.read_csv(tmp_path / 'results.csv')
    assert len(after) == len(first) + 2 and after.job_id.is_unique, after
    pd.testing.assert_frame_equal(after.iloc[:len(first)][['p:x', 'objective', 'job_id']], first[['p:x', 'objective', 'job_id']])


def _toy_objective(job): return -job.parameters['x']


def test_numeric_reload_patches_what_reload_checkpoint_calls(tmp_path):
    "numeric_reload swaps `deephyper.hpo._search.read_results_from_csv`, which restarts read with a plain read_csv."
    pytest.importorskip('deephyper')
    import deephyper.hpo._search as S
    from molcryst.hpo import read_results
    assert callable(getattr(S, 'read_results_from_csv', None)), (
        'deephyper.hpo._search has no read_results_from_csv: find how Search.reload_checkpoint reads results.csv now '
        'and patch that in molcryst.compat.numeric_reload')
    assert 'read_results_from_csv(' in inspect.getsource(S.Search.reload_checkpoint), (
        'Search.reload_checkpoint no longer calls read_results_from_csv: molcryst.compat.numeric_reload patches nothing')
    csv = tmp_path / 'results.csv'
    csv.write_text('p:x,objective,job_id\n0.1,-0.25,0\n0.2,F_ValueError,1\n')
    plain = S.read_results_from_csv(str(csv)).objective.tolist()
    assert plain == ['-0.25', 'F_ValueError'], (
        f'DeepHyper now reads a mixed objective column as {plain!r}: if it keeps numbers numeric, '
        'molcryst.compat.numeric_reload may go')
    with compat.numeric_reload(read_results):
        assert S.read_results_from_csv(str(csv)).objective.tolist() == [-0.25, 'F_ValueError']
    assert S.read_results_from_csv is not read_results


# --- Lightning --------------------------------------------------------------------------------------------------

_ENVS = ('MPIEnvironment', 'SLURMEnvironment', 'LSFEnvironment')


def test_lightning_detects_clusters_through_static_detect():
    "single_process_trial swaps the `detect` static methods that Lightning's Trainer asks."
    from lightning.fabric.plugins import environments as envs
    from lightning.pytorch.trainer.connectors.accelerator_connector import _AcceleratorConnector
    for n in _ENVS:
        c = getattr(envs, n, None)
        assert c is not None, f'lightning.fabric.plugins.environments has no {n}: update molcryst.compat.single_process_trial'
        assert isinstance(c.__dict__.get('detect'), staticmethod), (
            f'{n}.detect is no longer a static method defined on the class: single_process_trial saves and restores '
            "c.__dict__['detect']; re-check how to switch it off")
    src = inspect.getsource(_AcceleratorConnector._choose_and_init_cluster_environment)
    assert 'env_type.detect()' in src and all(n in src for n in ('SLURMEnvironment', 'LSFEnvironment', 'MPIEnvironment')), (
        "Lightning's Trainer no longer chooses its cluster environment by calling detect() on these classes: "
        're-check molcryst.compat.single_process_trial')


def test_single_process_trial_hides_the_cluster(monkeypatch):
    from lightning.fabric.plugins.environments import SLURMEnvironment
    from lightning.pytorch.trainer.connectors.accelerator_connector import _AcceleratorConnector
    monkeypatch.setenv('SLURM_NTASKS', '2'); monkeypatch.setenv('SLURM_JOB_NAME', 'search')
    monkeypatch.delenv('SLURM_NTASKS_PER_NODE', raising=False)
    assert SLURMEnvironment.detect()
    saved = SLURMEnvironment.__dict__['detect']
    with compat.single_process_trial():
        assert not SLURMEnvironment.detect()
        env = _AcceleratorConnector._choose_and_init_cluster_environment(type('C', (), {'_cluster_environment_flag': None})())
        assert type(env).__name__ == 'LightningEnvironment', type(env)
    assert SLURMEnvironment.__dict__['detect'] is saved and SLURMEnvironment.detect()
