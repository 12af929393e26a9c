"Hyperparameter search under `mpirun` equals the serial search (its own file, so that the test workers share the slow tests out)."
import os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd

from molcryst.hpo import SearchResult, tune

from test_hpo import CFG, SPACE, _dev_extra


MPI_SCRIPT = """
import os, sys
from molcryst.hpo import tune
res = tune({cfg!r}, space={space!r}, max_evals=5, method='random', search_seed=7, evaluator='mpicomm', log_dir=sys.argv[1], progress=False)
if res is not None: print('MASTER', os.getpid(), len(res.finished))
"""


def test_mpirun_search_equals_serial_search(tmp_path):
    """`mpirun -np 3` (one master, two worker ranks) with the mpicomm evaluator finds the same trials as a serial search
    with the same seeds. Random search: its k-th point depends on the seed alone (molcryst.compat draws one point at a
    time), whereas CBO's points depend on which results are in when it asks, so they differ with the number of workers.
    Each trial trains the same config with the same seed on one thread in both: the same arithmetic, and the objectives
    came out bitwise equal here; the tolerance (1e-12) leaves room only for a BLAS choosing another kernel elsewhere."""
    _dev_extra('mpi4py')
    mpirun = Path(sys.executable).with_name('mpirun')                  # mpich's, in the venv's bin
    _dev_extra('mpich', mpirun.exists())
    script = tmp_path / 'mpi_search.py'
    script.write_text(MPI_SCRIPT.format(cfg=CFG, space=SPACE))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    r = subprocess.run([str(mpirun), '-np', '3', sys.executable, str(script), str(tmp_path / 'mpi')], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    master = [l.split() for l in r.stdout.splitlines() if l.startswith('MASTER')]
    assert len(master) == 1 and master[0][2] == '5', r.stdout[-3000:]             # one rank ran the search
    import torch
    torch.set_num_threads(1)                                           # as each rank (conftest puts it back)
    serial = tune(CFG, space=SPACE, max_evals=5, method='random', search_seed=7, log_dir=tmp_path / 'serial', progress=False)
    mpi = SearchResult.from_dir(tmp_path / 'mpi')
    assert len(set(mpi.results['m:pid'])) == 2 and int(master[0][1]) not in set(mpi.results['m:pid'])   # two worker ranks trained
    a, b = (x.results.sort_values('job_id').reset_index(drop=True) for x in (serial, mpi))
    cols = [c for c in a.columns if c.startswith('p:')] + ['job_id', 'm:epochs_run']
    pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False)
    np.testing.assert_allclose(b.objective.astype(float), a.objective.astype(float), rtol=1e-12, atol=0)
