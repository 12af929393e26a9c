"Hyperparameter search on a local Ray cluster, for real: trials in parallel and a worker killed mid-trial, in one search (its own file, so that the test workers share the slow tests out)."
import os, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

import pandas as pd

from molcryst.hpo import SearchResult, read_results

from test_hpo import CFG, SPACE, _dev_extra, _rows


def _title(pid:int)->str:
    "A process's title, argv[0] (a Ray worker's is `ray::run_trial` while it runs a trial, `ray::IDLE` between)."
    try: return Path(f'/proc/{pid}/cmdline').read_bytes().split(b'\0')[0].decode(errors='replace').strip()
    except OSError: return ''


def _session(sid:int)->dict:
    "PID → title of every process in session `sid`: the driver started with start_new_session and its Ray cluster."
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit(): continue
        try: stat = Path(f'/proc/{d}/stat').read_text()
        except OSError: continue
        if int(stat.rsplit(')', 1)[1].split()[3]) == sid: out[int(d)] = _title(int(d))
    return out


def _end_session(p):
    "Kill what is left of the driver `p` and its cluster (by PID, only processes of its session), then reap it."
    for pid in _session(p.pid):
        with __import__('contextlib').suppress(ProcessLookupError): os.kill(pid, signal.SIGKILL)
    p.wait()


RAY_DRIVER = """
import sys, ray
ray.init(address='local', num_cpus=2, include_dashboard=False, _temp_dir=sys.argv[1])   # a local cluster: GCS, raylet, 2 CPUs
from molcryst.hpo import tune
tune({cfg!r}, space={space!r}, max_evals=int(sys.argv[3]), method='random', evaluator='ray', workers=2, log_dir=sys.argv[2],
     evaluator_kwargs={{'num_cpus_per_task': 1}})
ray.shutdown()
"""


def _ray_search(tmp_path, space, max_evals, on_poll):
    """Run a search on a local Ray cluster started by a driver in its own session; `on_poll(titles, rows)` sees the
    cluster's processes (PID → title, `ray::run_trial` while a worker runs a trial) and results.csv every 20 ms."""
    log_dir = tmp_path / 'ray'
    script = tmp_path / 'ray_search.py'
    script.write_text(RAY_DRIVER.format(cfg=CFG, space=space))
    ray_tmp = tempfile.mkdtemp(prefix='mcray', dir='/tmp')       # short: Ray's socket paths must fit in 107 bytes
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED='0', PYTHONWARNINGS='ignore')
    p = subprocess.Popen([sys.executable, str(script), ray_tmp, str(log_dir), str(max_evals)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        t0 = time.time()
        while p.poll() is None:
            assert time.time() - t0 < 300, 'the Ray search did not finish in 300 s'
            on_poll(_session(p.pid), _rows(log_dir))
            time.sleep(0.02)
        out = p.stdout.read().decode()
        assert p.returncode == 0, out[-3000:]
        assert not _session(p.pid), 'the Ray cluster outlived its driver'     # ray.shutdown() stopped it
    finally:
        if p.poll() is None or _session(p.pid): _end_session(p)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    return log_dir, out, p.pid


def _running_trials(titles:dict)->set: return {pid for pid, t in titles.items() if t.startswith('ray::run_trial')}


def test_ray_cluster_parallel_trials_and_a_killed_worker(tmp_path):
    """One search on a local 2-CPU Ray cluster (one cluster start for both checks, the slowest part of the test):
    * two Ray worker processes train trials at the same time, one torch thread each, never the driver; every trial is
      recorded with its folder;
    * kill -9 a Ray worker while it trains a trial: Ray runs the task again on another worker and the search finishes;
      the trials finished before the kill keep their rows and folders (not trained again), and no job is recorded twice."""
    _dev_extra('ray')
    space = dict(SPACE, epochs={'value': 4})                           # trials of a second or so: a window to kill in
    state, seen, most = {}, set(), [0]
    def poll(titles, rows):
        running = _running_trials(titles)
        seen.update(running); most[0] = max(most[0], len(running))
        if 'pid' in state:                                              # the results as they stood when the kill landed
            if 'before' not in state and time.time() - state['t'] > 1:
                trials = tmp_path / 'ray' / 'trials'
                state.update(before=rows, stamps={t: (trials / t / 'metrics.json').stat().st_mtime_ns for t in rows['m:trial']})
            return
        if len(rows) < 2: return
        for pid in sorted(running):
            if _title(pid).startswith('ray::run_trial'):               # still training: kill it
                os.kill(pid, signal.SIGKILL); state.update(pid=pid, t=time.time()); return
    log_dir, out, driver = _ray_search(tmp_path, space, 6, poll)
    # in parallel, on the workers
    res = SearchResult.from_dir(log_dir)
    assert 'ray evaluator × 2' in out
    assert most[0] == 2, f'at most {most[0]} trial(s) ran at once'
    pids = set(res.results['m:pid'])
    assert len(pids) >= 2 and pids <= seen and driver not in pids      # trained by Ray workers, not the driver
    assert (res.results['m:threads'] == 1).all()                       # num_cpus_per_task: 1 torch thread each
    for t in res.results['m:trial']: assert (log_dir / 'trials' / t / 'metrics.json').exists()
    # the kill
    assert 'before' in state, 'no trial was running once two had finished: nothing was killed'
    before, after = state['before'], read_results(log_dir / 'results.csv')
    assert sorted(after.job_id) == list(range(6)) and len(res.finished) == 6, after.job_id.tolist()   # every job once, none lost
    assert after.objective.map(lambda o: isinstance(o, float)).all(), after.objective.tolist()   # the killed one too
    pcols = [c for c in before.columns if c.startswith('p:')] + ['job_id', 'objective', 'm:pid']
    kept = after.set_index('job_id').loc[before.job_id].reset_index()[pcols]
    pd.testing.assert_frame_equal(kept, before[pcols].reset_index(drop=True), check_dtype=False)
    for t, ns in state['stamps'].items(): assert (log_dir / 'trials' / t / 'metrics.json').stat().st_mtime_ns == ns, t
    # the killed worker finished nothing after the kill: its trial was trained again by another worker
    assert set(after[after['m:pid'] == state['pid']].job_id) <= set(before.job_id)
    assert len(after) == 6 and driver not in set(after['m:pid'])
