"""Training end to end: every backbone and optimizer through `fit`, AMP, W&B offline, DDP on 2 CPU processes,
two localhost nodes (equal to one process; a rank killed and resumed), kill -9 and resume, safe loading on resume, and prediction on CIF files."""
import json, os, signal, subprocess, sys, time, zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from molcryst.core import CheckpointError, ConfigError
from molcryst.models import BACKBONES
from molcryst.training import TrainConfig, fit, load, predict, safe_load

from molcryst.models import BACKBONES, preset
TINY = {name: preset(name, 'tiny') for name in BACKBONES}   # the registry's test-sized backbones

def tiny(tmp_path, backbone='schnet', **kw):
    d = dict(dataset='qm9', targets=['homo'], dataset_kwargs=dict(limit=80, progress=False), backbone=backbone,
             model_kwargs=TINY[backbone], batch_size=16, epochs=1, learning_rate=1e-3, run_dir=str(tmp_path / 'run'))
    d.update(kw)
    return TrainConfig.from_dict(d)

def molcryst_cmd():
    exe = Path(sys.executable).with_name('molcryst')
    return [str(exe)] if exe.exists() else [sys.executable, '-c', 'import sys; from molcryst.cli import main; sys.exit(main())']

@pytest.mark.parametrize('backbone', list(BACKBONES))
def test_every_backbone_fits_loads_and_predicts(tmp_path, backbone):
    run = fit(tiny(tmp_path, backbone), progress=False)
    assert np.isfinite(run.metrics['best_val_loss'])
    model = load(run.best_checkpoint)
    # the reloaded model reproduces the run's own test predictions
    test = run.predictions[run.predictions.split == 'test']
    from molcryst.training import evaluate
    from molcryst.datasets import QM9
    ds = QM9('homo', limit=80, progress=False)
    idx = [ds.ids.index(i) for i in test.id]
    _, df = evaluate(model, ds, idx)
    np.testing.assert_allclose(df.homo_pred.to_numpy(), test.homo_pred.to_numpy(), rtol=1e-5, atol=1e-6)

@pytest.mark.parametrize('optimizer', ['sgd', 'adam', 'adamw', 'lamb'])
def test_every_optimizer_lowers_the_loss(tmp_path, optimizer):
    lr = dict(sgd=1e-2, adam=2e-3, adamw=2e-3, lamb=1e-2)[optimizer]
    run = fit(tiny(tmp_path, optimizer=optimizer, learning_rate=lr, epochs=4, scheduler='none'), progress=False)
    h = run.history
    assert h.train_loss.iloc[-1] < h.train_loss.iloc[0]

@pytest.mark.parametrize('backbone', list(BACKBONES))
def test_amp_bf16_on_cpu(tmp_path, backbone):
    # every backbone, on this machine's own code paths (AVX-512 or AVX2, whichever it has)
    run = fit(tiny(tmp_path, backbone, amp=True, epochs=2, agb=2, gradient_clip=1.0), progress=False)
    assert np.isfinite(run.history.train_loss).all()

AMP_AVX2 = '''
import json, sys, torch
from molcryst.training import TrainConfig, fit
cfg = TrainConfig.from_dict(json.loads(sys.argv[1]))
run = fit(cfg, progress=False)
print(json.dumps(dict(cpu=torch.backends.cpu.get_cpu_capability(), loss=run.history.train_loss.tolist())))
'''

@pytest.mark.parametrize('backbone,dataset', [('mpnn', 'qm9'), ('mpnn_transformer', 'qm9'), ('cgcnn_dense', 'qm9'),
                                              ('mpnn_transformer', 'md17')])
def test_amp_bf16_on_avx2_code_paths(tmp_path, backbone, dataset):
    # oneDNN limited to AVX2 (what an AVX2-only EPYC runs; an AVX-512 machine takes the same paths): the bf16 LSTM
    # primitive does not exist there, so Set2Set's LSTM and the GRU must run in float32 inside the autocast region;
    # md17 adds forces (a gradient of a gradient through attention)
    kw = dict(amp=True, epochs=1)
    if dataset == 'md17': kw.update(dataset='md17', targets=['energy'], dataset_kwargs=dict(source='ethanol', limit=48, progress=False))
    cfg = tiny(tmp_path, backbone, **kw).to_dict()
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA='AVX2', OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, '-c', AMP_AVX2, json.dumps(cfg)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert np.isfinite(out['loss']).all(), out

def test_amp_refused_before_training_when_the_cpu_cannot(tmp_path, monkeypatch):
    # a kernel that this CPU refuses in bf16 (simulated: the GRU raises under autocast, as oneDNN's LSTM does on AVX2)
    # is a clear ConfigError before the first epoch, and leaves no run folder behind
    from molcryst.models import layers
    def refuse(module, *a, **k):
        if torch.is_autocast_enabled('cpu'): raise RuntimeError('could not create a primitive descriptor for the GRU forward propagation primitive')
        return module(*a, **k)
    monkeypatch.setattr('molcryst.models.mpnn.float32_call', refuse)
    cfg = tiny(tmp_path, 'mpnn', amp=True)
    with pytest.raises(ConfigError, match=r"TrainConfig.amp: bf16 mixed precision fails for backbone 'mpnn' on this CPU .*primitive descriptor.*amp: false"):
        fit(cfg, progress=False)
    assert not (tmp_path / 'run').exists()
    run = fit(cfg.replace(amp=False), progress=False)                  # the same run in float32 trains
    assert np.isfinite(run.history.train_loss).all()

def test_wandb_offline(tmp_path, monkeypatch):
    monkeypatch.setenv('WANDB_MODE', 'offline'); monkeypatch.setenv('WANDB_SILENT', 'true')
    run = fit(tiny(tmp_path, loggers=['csv', 'wandb']), progress=False)
    runs = list((run.run_dir / 'wandb').glob('offline-run-*'))
    assert len(runs) == 1 and list(runs[0].glob('*.wandb'))
    assert (run.run_dir / 'logs' / 'version_0' / 'metrics.csv').exists()      # CSV always

def test_wandb_mode_follows_login(monkeypatch, tmp_path):
    from molcryst.training import wandb_mode
    monkeypatch.delenv('WANDB_MODE', raising=False); monkeypatch.delenv('WANDB_API_KEY', raising=False)
    monkeypatch.setenv('HOME', str(tmp_path)); monkeypatch.setenv('NETRC', str(tmp_path / '.netrc'))
    assert wandb_mode() == 'offline'
    monkeypatch.setenv('WANDB_API_KEY', 'x' * 40)
    assert wandb_mode() == 'online'
    monkeypatch.setenv('WANDB_MODE', 'disabled')
    assert wandb_mode() == 'disabled'

def test_energy_forces_training_lowers_force_error(tmp_path):
    # measured: force MAE 0.69 -> 0.24 eV/Å in 10 epochs of this setup (160 frames); a broken gradient path stays near 0.69
    cfg = dict(dataset='md17', targets=['energy'], dataset_kwargs=dict(source='ethanol', limit=160, progress=False),
               backbone='schnet', model_kwargs=dict(hidden_channels=32, num_filters=32, num_interactions=2, num_rbf=20),
               batch_size=16, epochs=10, learning_rate=3e-3, run_dir=str(tmp_path / 'ef'), scheduler='none')
    run = fit(cfg, progress=False)
    h = run.history
    assert h.val_mae_forces.iloc[-1] < 0.6 * h.val_mae_forces.iloc[0]
    m = load(run.best_checkpoint)
    assert m.forces and m.units == {'energy': 'eV'}

def test_ddp_two_cpu_processes(tmp_path):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    cmd = molcryst_cmd() + ['train', '--dataset', 'qm9', '--dataset-kwargs', '{limit: 64, progress: false}', '--backbone', 'schnet',
                            '--model-kwargs', json.dumps(TINY['schnet']), '--epochs', '2', '--batch-size', '8',
                            '--accelerator', 'cpu', '--devices', '2', '--strategy', 'ddp', '--run-dir', str(tmp_path / 'ddp'), '-q']
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((tmp_path / 'ddp' / 'metrics.json').read_text())
    assert m['epochs'] == 2 and m['test']['homo']['n'] == 6
    hist = (tmp_path / 'ddp' / 'logs' / 'version_0' / 'metrics.csv').read_text()
    assert 'val_mae_homo' in hist

def _epoch_of(path):
    try: return int(safe_load(path)['epoch'])
    except Exception: return -1

def test_kill9_then_resume_matches_uninterrupted_run(tmp_path):
    args = ['--dataset', 'qm9', '--dataset-kwargs', '{limit: 120, progress: false}', '--backbone', 'schnet',
            '--model-kwargs', json.dumps(TINY['schnet']), '--epochs', '10', '--batch-size', '8', '--learning-rate', '0.002', '-q']
    killed = tmp_path / 'killed'
    proc = subprocess.Popen(molcryst_cmd() + ['train'] + args + ['--run-dir', str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = killed / 'checkpoints' / 'last.ckpt'
    t0 = time.time()
    while _epoch_of(last) < 2 and proc.poll() is None and time.time() - t0 < 240: time.sleep(0.05)
    assert proc.poll() is None, 'training finished before it could be killed'
    proc.send_signal(signal.SIGKILL); proc.wait()
    done = _epoch_of(last)
    assert 2 <= done < 9
    # resuming continues from the last finished epoch: nothing finished is lost or repeated
    r = subprocess.run(molcryst_cmd() + ['train'] + args + ['--run-dir', str(killed), '--resume'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    from molcryst.training import read_history
    h = read_history(killed)
    assert list(h.epoch) == list(range(10))
    versions = sorted((killed / 'logs').glob('version_*'))
    assert len(versions) == 2
    first = __import__('pandas').read_csv(versions[1] / 'metrics.csv')
    assert first.epoch.min() == done + 1                  # the resumed session started after the last saved epoch
    # and gives the result of an uninterrupted run with the same seed
    whole = tmp_path / 'whole'
    r = subprocess.run(molcryst_cmd() + ['train'] + args + ['--run-dir', str(whole)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = (json.loads((d / 'metrics.json').read_text()) for d in (killed, whole))
    assert a['best_val_loss'] == pytest.approx(b['best_val_loss'], rel=1e-5)
    assert a['test']['homo']['mae'] == pytest.approx(b['test']['homo']['mae'], rel=1e-5)

# ---- multi-node DDP, simulated on localhost: one launch of `molcryst train` per "node", gloo, one device each ----
# 200 QM9 molecules: 160 train, 20 val, 20 test. Two nodes with batches of 8 train on the batches of one process with
# batches of 16 (each rank takes its share of the same order: molcryst.datamodule.EpochSampler), 10 steps an epoch.
MN_ARGS = ['--dataset', 'qm9', '--dataset-kwargs', '{limit: 200, progress: false}', '--backbone', 'schnet',
           '--model-kwargs', json.dumps(TINY['schnet']), '--epochs', '8', '--learning-rate', '0.002', '--accelerator', 'cpu', '-q']
NODE_ARGS = ['--batch-size', '8', '--devices', '1', '--num-nodes', '2', '--strategy', 'ddp']


def _free_port()->int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _env(cache, **kw): return dict(os.environ, MOLCRYST_CACHE=str(cache), OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore', **kw)


@pytest.fixture(scope='module')
def one_process(tmp_path_factory):
    "The single-process run the two-node runs are compared with (global batch 16); it also builds the shared data cache."
    root = tmp_path_factory.mktemp('one')
    r = subprocess.run(molcryst_cmd() + ['train'] + MN_ARGS + ['--batch-size', '16', '--run-dir', str(root / 'run')], env=_env(root / 'cache'),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return root


def _nodes(run_dir, cache, *extra, first=1):
    "Launch node 1 and node 0 (`first` starts a second earlier): MASTER_ADDR/PORT on localhost, NODE_RANK, WORLD_SIZE=2."
    port, procs = _free_port(), {}
    for rank in (first, 1 - first):
        env = _env(cache, MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), NODE_RANK=str(rank), WORLD_SIZE='2')
        procs[rank] = subprocess.Popen(molcryst_cmd() + ['train'] + MN_ARGS + NODE_ARGS + ['--run-dir', str(run_dir), *extra], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
    return procs


def _wait(procs, timeout=300):
    try:
        errs = {r: p.communicate(timeout=timeout)[1] for r, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None: p.kill(); p.wait()
    for r, p in procs.items(): assert p.returncode == 0, f'node {r}:\n{errs[r][-3000:]}'
    return errs


def _agree(run_dir, ref_dir):
    """Metrics of the two-node run equal the single-process run's: the same batches from the same initial weights.
    Only the order of float32 sums differs (two half-batch gradients all-reduced and averaged, not one mean over 16), which
    moves the weights by ~1e-9 relative per step; over 80 Adam steps the metrics agreed to ~1e-8 here: rel 1e-5 is ample
    and still far below what a different batch or a lost epoch would change (~1e-3)."""
    from molcryst.training import read_history
    a, b = (json.loads((d / 'metrics.json').read_text()) for d in (run_dir, ref_dir))
    assert a['epochs'] == b['epochs'] == 8 and a['train_size'] == b['train_size'] == 160
    assert a['best_val_loss'] == pytest.approx(b['best_val_loss'], rel=1e-5)
    for k in ('mae', 'rmse', 'r2'): assert a['test']['homo'][k] == pytest.approx(b['test']['homo'][k], rel=1e-5), k
    ha, hb = read_history(run_dir), read_history(ref_dir)
    assert list(ha.epoch) == list(hb.epoch) == list(range(8))
    np.testing.assert_allclose(ha.val_loss, hb.val_loss, rtol=1e-5); np.testing.assert_allclose(ha.train_loss, hb.train_loss, rtol=1e-5)


def test_two_nodes_equal_one_process(tmp_path, one_process):
    "num_nodes=2 on localhost (node 1 started first: it must not claim the run folder) trains what one process does."
    errs = _wait(_nodes(tmp_path / 'mn', one_process / 'cache'))
    assert 'GLOBAL_RANK: 1, MEMBER: 2/2' in errs[1] and 'GLOBAL_RANK: 0, MEMBER: 1/2' in errs[0]   # one job of two ranks
    _agree(tmp_path / 'mn', one_process / 'run')


def test_two_nodes_resume_after_a_rank_is_killed(tmp_path, one_process):
    "kill -9 node 1 mid-run; node 0 then fails (or is killed); both relaunched with --resume finish the run as if uninterrupted."
    run_dir = tmp_path / 'mn'
    procs = _nodes(run_dir, one_process / 'cache')
    last = run_dir / 'checkpoints' / 'last.ckpt'
    try:
        t0 = time.time()
        while _epoch_of(last) < 2 and all(p.poll() is None for p in procs.values()) and time.time() - t0 < 240: time.sleep(0.05)
        assert all(p.poll() is None for p in procs.values()), 'a node ended before the kill'
        procs[1].send_signal(signal.SIGKILL); procs[1].wait()
        try: procs[0].wait(timeout=60)                     # gloo sees its peer gone: node 0 fails
        except subprocess.TimeoutExpired: pass
    finally:
        for p in procs.values():
            if p.poll() is None: p.kill(); p.wait()
    done = _epoch_of(last)
    assert 2 <= done < 7, done
    assert not (run_dir / 'metrics.json').exists()         # the run did not finish
    _wait(_nodes(run_dir, one_process / 'cache', '--resume'))
    versions = sorted((run_dir / 'logs').glob('version_*'))
    assert len(versions) == 2
    assert __import__('pandas').read_csv(versions[1] / 'metrics.csv').epoch.min() == done + 1   # resumed after the last saved epoch
    assert _epoch_of(last) == 7 and load(run_dir / 'checkpoints' / 'best.ckpt').targets == ['homo']
    _agree(run_dir, one_process / 'run')


def test_resume_refuses_a_pickle_payload(tmp_path):
    cfg = tiny(tmp_path, epochs=1)
    fit(cfg, progress=False)
    marker = tmp_path / 'pwned'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    last = Path(cfg.run_dir) / 'checkpoints' / 'last.ckpt'
    ck = torch.load(last, weights_only=True); ck['callbacks'] = Evil()
    torch.save(ck, last)
    with pytest.raises(CheckpointError, match='refused'): fit(cfg.replace(epochs=2), resume=True, progress=False)
    assert not marker.exists()

def test_existing_run_dir_needs_resume_or_overwrite(tmp_path):
    cfg = tiny(tmp_path)
    fit(cfg, progress=False)
    with pytest.raises(ConfigError, match='already holds a run'): fit(cfg, progress=False)
    run = fit(cfg, overwrite=True, progress=False)
    assert len(list((run.run_dir / 'logs').glob('version_*'))) == 1

def test_config_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / 'run.yaml'
    bad.write_text('backbone: schnet\nepochs: [1, 2\n')
    with pytest.raises(ConfigError, match=r'run.yaml: invalid YAML: line \d+'): TrainConfig.from_yaml(bad)
    bad.write_text('backbone: schnet\nlearnig_rate: 0.1\n')
    with pytest.raises(ConfigError, match="run.yaml: unknown field 'learnig_rate' \\(did you mean 'learning_rate'"): TrainConfig.from_yaml(bad)
    p = subprocess.run(molcryst_cmd() + ['train', '--config', str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and 'learnig_rate' in p.stderr and str(bad) in p.stderr

def test_crystal_model_predicts_on_cif_files(tmp_path):
    from molcryst.datasets import odac_files
    run = fit(dict(dataset='odac', targets=['co2'], dataset_kwargs=dict(limit=40, progress=False), backbone='cgcnn',
                   model_kwargs=TINY['cgcnn'], batch_size=8, epochs=1, run_dir=str(tmp_path / 'odac')), progress=False)
    zpath, csv = odac_files()['pristine']
    import pandas as pd
    name = str(pd.read_csv(csv).iloc[0, 0])
    cif = tmp_path / f'{name}.cif'
    with zipfile.ZipFile(zpath) as z: cif.write_bytes(z.read(f'{name}.cif'))
    df = predict(run.best_checkpoint, [cif])
    assert list(df.name) == [name] and np.isfinite(df.co2).all()
    # the same structure through the training pipeline gives the same prediction
    pred = run.predictions.set_index('id')
    if name in pred.index: assert df.co2[0] == pytest.approx(pred.loc[name, 'co2_pred'], rel=1e-4, abs=1e-5)


def test_fit_after_deephyper_imported_mpi(tmp_path):
    """Training in a process that has imported DeepHyper's evaluators (a notebook that searches, then trains the best
    configuration): mpi4py is then imported with its initialisation off, and Lightning's MPI probe aborted the process
    (MPICH: 'Attempting to use an MPI routine before initializing') until `make_trainer` called `mpi_ready`."""
    import importlib.util
    if not (importlib.util.find_spec('mpi4py') and importlib.util.find_spec('deephyper')):
        pytest.skip('mpi4py or deephyper not installed (the dev extra installs both; CI has them)')
    cfg = tiny(tmp_path)
    script = (f"import deephyper.evaluator.mpi\n"
              f"from molcryst.training import TrainConfig, fit\n"
              f"r = fit(TrainConfig.from_dict({cfg.to_dict()!r}), progress=False)\n"
              f"print('val_loss', r.metrics['best_val_loss'])\n")
    p = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert 'val_loss' in p.stdout

@pytest.mark.parametrize('backbone', ['physnet', 'cgcnn'])
def test_compiled_training_follows_eager(tmp_path, backbone):
    """TrainConfig.compile: the backbone trains through torch.compile (checked against eager on the first batch, so no
    warning), the losses follow the eager run's to float32 rounding over two epochs, and the checkpoint is the eager
    module's (same keys, loads as usual)."""
    import warnings
    runs = {}
    for c in (False, True):
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter('always')
            runs[c] = fit(tiny(tmp_path / str(c), backbone, epochs=2, compile=c, scheduler='none'), progress=False)
        msgs = [str(w.message) for w in ws if 'TrainConfig.compile' in str(w.message)]
        assert not msgs, msgs
    np.testing.assert_allclose(runs[True].history.train_loss, runs[False].history.train_loss, rtol=1e-3)
    models = {k: load(r.best_checkpoint) for k, r in runs.items()}
    assert models[True].state_dict().keys() == models[False].state_dict().keys()
    assert '_compiled_backbone' not in models[True].__dict__
