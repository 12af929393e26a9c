"`molcryst md` and `run_md` the way they fail in practice: a process killed mid-run, a blow-up, bad input."
import os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from ase.io import Trajectory, write

from molcryst.cli import main
from molcryst.md import MolcrystCalculator, molecule_atoms, read_frames, run_md

MODEL = 'et-ethanol-xtb'
SAVE = 5        # steps between frames in these tests
DT = 0.25       # fs


def _steps(path): return [a.info['md_step'] for a in read_frames(path)]


def _n_frames(path):
    try:
        with Trajectory(path) as t: return len(t)
    except Exception: return 0          # not yet written, or the header being written


@pytest.fixture
def ethanol_xyz(tmp_path):
    p = tmp_path / 'ethanol.xyz'
    write(p, molecule_atoms('ethanol'))
    return p


def test_kill9_then_resume_loses_and_repeats_nothing(tmp_path, ethanol_xyz, capsys):
    "SIGKILL an MD process mid-run, resume it: every frame once, the old frames untouched, the same path as an unbroken run."
    traj = tmp_path / 'md.traj'
    args = ['md', MODEL, str(ethanol_xyz), '--steps', '20000', '--timestep', str(DT), '--out', str(traj),
            '--save-every', str(SAVE), '--log-every', str(SAVE), '--threads', '1', '-q']
    code = f'import sys; from molcryst.cli import main; sys.exit(main({args!r}))'
    proc = subprocess.Popen([sys.executable, '-c', code], env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        t0 = time.time()
        while _n_frames(traj) < 12:                    # let it write some frames, then kill it while it is writing more
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() - t0 < 240, 'the MD subprocess wrote no frames in 4 minutes'
            time.sleep(0.05)
        # while it runs, a second writer of the same trajectory is refused (and touches nothing)
        assert main(args[:3] + ['--steps', '100'] + args[5:] + ['--resume']) == 2
        assert 'being written by another run' in capsys.readouterr().err
        assert proc.poll() is None
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL); proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = read_frames(traj)                           # a readable file after the kill
    steps_before = [a.info['md_step'] for a in before]
    assert steps_before == list(range(0, SAVE * len(before), SAVE))
    last = steps_before[-1]
    total = last + 10 * SAVE                             # resume past the kill point
    threads = torch.get_num_threads()
    try:
        assert main(args[:3] + ['--steps', str(total)] + args[5:] + ['--resume']) == 0   # --threads 1, as the killed run
        after = read_frames(traj)
        ref = run_md(molecule_atoms(ethanol_xyz), MolcrystCalculator(MODEL), steps=total, timestep_fs=DT, temperature_K=300,
                     trajectory=tmp_path / 'ref.traj', save_every=SAVE, log_every=SAVE, progress=False)
    finally: torch.set_num_threads(threads)
    assert [a.info['md_step'] for a in after] == list(range(0, total + 1, SAVE))   # no frame lost, none twice
    for a, b in zip(before, after): np.testing.assert_array_equal(a.positions, b.positions)
    log = pd.read_csv(traj.with_suffix('.csv'))
    assert log.step.tolist() == list(range(0, total + 1, SAVE))
    # the same path as a run that was never interrupted (NVE is deterministic given positions and momenta)
    np.testing.assert_allclose(np.array([a.positions for a in after]), np.array([a.positions for a in ref.frames()]), atol=1e-4)
    np.testing.assert_allclose(log.etot.to_numpy(), ref.log.etot.to_numpy(), atol=1e-4)


def test_cli_md_writes_frames_and_log(tmp_path, ethanol_xyz, capsys):
    out = tmp_path / 'eth.traj'
    assert main(['md', MODEL, str(ethanol_xyz), '--steps', '40', '--timestep', '0.5', '--out', str(out), '-q', '--log-every', '20']) == 0
    text = capsys.readouterr().out
    assert 'steps/s' in text and 'energy drift' in text and str(out) in text
    assert _steps(out) == list(range(0, 41, 10))
    fr = read_frames(out)
    assert all(np.isfinite(a.get_potential_energy()) for a in fr) and fr[-1].get_forces().shape == (9, 3)
    assert pd.read_csv(out.with_suffix('.csv')).step.tolist() == [0, 20, 40]
    # a finished run resumed to the same length does nothing; to a longer one it appends
    assert main(['md', MODEL, str(ethanol_xyz), '--steps', '40', '--timestep', '0.5', '--out', str(out), '-q', '--resume']) == 0
    assert _steps(out) == list(range(0, 41, 10))
    assert main(['md', MODEL, str(ethanol_xyz), '--steps', '60', '--timestep', '0.5', '--out', str(out), '-q', '--resume']) == 0
    assert _steps(out) == list(range(0, 61, 10))


def test_cli_md_blowup_is_a_clear_error_and_keeps_frames(tmp_path, ethanol_xyz, capsys):
    out = tmp_path / 'bad.traj'
    rc = main(['md', MODEL, str(ethanol_xyz), '--steps', '500', '--timestep', '5', '--temperature', '500', '--out', str(out),
               '--save-every', '1', '-q'])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count('\n') == 0, err
    assert 'MD blew up at step' in err and 'the trajectory keeps' in err and str(out) in err
    steps = _steps(out)
    assert steps == list(range(len(steps))) and 0 < len(steps) < 500
    assert all(np.isfinite(a.positions).all() for a in read_frames(out))


@pytest.mark.parametrize('argv, message', [
    (['md', 'no-such-model.ckpt', 'ethanol'], 'no such checkpoint file'),
    (['md', MODEL, 'not/a/file.xyz'], 'not/a/file.xyz: structures:'),
    (['md', MODEL, 'ethanol', '--steps', '-5'], 'steps must be an integer'),
    (['md', MODEL, 'ethanol', '--timestep', '0'], 'timestep_fs must be a positive number'),
    (['md', MODEL, 'ethanol', '--thermostat', 'langevin', '--temperature', '0'], 'needs temperature_K > 0'),
])
def test_cli_md_bad_input(tmp_path, argv, message, capsys):
    rc = main(argv + ['--out', str(tmp_path / 'x.traj'), '-q'])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and err.count('\n') == 0, err


def test_cli_md_refuses_to_clobber_and_to_mix_runs(tmp_path, capsys):
    out = tmp_path / 'eth.traj'
    assert main(['md', MODEL, 'ethanol', '--steps', '10', '--timestep', '0.5', '--out', str(out), '-q']) == 0
    capsys.readouterr()
    assert main(['md', MODEL, 'ethanol', '--steps', '20', '--out', str(out), '-q']) == 2
    assert 'already holds a trajectory' in capsys.readouterr().err
    assert main(['md', MODEL, 'ethanol', '--steps', '20', '--timestep', '0.1', '--out', str(out), '-q', '--resume']) == 2
    assert 'the run used 0.5 fs' in capsys.readouterr().err
    assert main(['md', MODEL, 'CO', '--steps', '20', '--timestep', '0.5', '--out', str(out), '-q', '--resume']) == 2
    assert 'are not those given' in capsys.readouterr().err
    out.write_bytes(b'garbage, not a trajectory')
    assert main(['md', MODEL, 'ethanol', '--steps', '20', '--timestep', '0.5', '--out', str(out), '-q', '--resume']) == 2
    assert 'not a readable ASE trajectory' in capsys.readouterr().err
    assert main(['md', MODEL, 'ethanol', '--steps', '10', '--timestep', '0.5', '--out', str(out), '-q', '--overwrite']) == 0
    assert _steps(out) == [0, 10]


def test_calculator_relaxes_ethanol_with_ase_optimizer():
    "Any ASE tool works with the calculator: BFGS finds a minimum of the model's energy."
    from ase.optimize import BFGS
    a = molecule_atoms('ethanol'); a.rattle(0.05, seed=0)
    a.calc = MolcrystCalculator(MODEL, dtype=torch.float64)
    e0 = a.get_potential_energy()
    assert BFGS(a, logfile=None).run(fmax=0.02, steps=200)
    assert np.linalg.norm(a.get_forces(), axis=1).max() < 0.02 and a.get_potential_energy() < e0


def test_calculator_leaves_denormal_flushing_as_it_found_it():
    # the calculator flushes subnormals during its own calls only: the caller's setting survives, and the energy is
    # the same whatever the caller had set (so no result elsewhere in the process depends on a calculator existing)
    from molcryst.core import denormals_flushed, flush_denormal
    atoms = molecule_atoms('ethanol'); atoms.calc = MolcrystCalculator(MODEL)
    energies = []
    for outside in (False, True, False):
        with flush_denormal(outside):
            atoms.calc.reset()
            energies.append(atoms.get_potential_energy())
            assert denormals_flushed() == outside
    assert energies[0] == energies[1] == energies[2]


def test_collision_during_md_is_a_blowup(tmp_path):
    # two atoms driven into each other mid-run: the calculator refuses the step and run_md reports a blow-up
    from ase.build import molecule
    a = molecule('H2'); a.positions[1] = a.positions[0] + [0, 0, 0.9]
    a.set_velocities([[0, 0, 5.0], [0, 0, -5.0]])              # ASE units: 0.5 Å/fs each, ~13 eV: no model stops that
    res = run_md(a, MolcrystCalculator(MODEL), steps=200, timestep_fs=0.5, temperature_K=None, trajectory=tmp_path / 'h2.traj',
                 save_every=1, progress=False, max_force=1e9, max_energy_change=None, max_temperature_K=None, min_distance=0.5)
    assert res.stopped and 'MD blew up at step' in res.stopped and 'apart' in res.stopped, res.stopped


def test_calculator_threads_apply_to_its_calls_only():
    n = torch.get_num_threads()
    atoms = molecule_atoms('ethanol'); atoms.calc = MolcrystCalculator(MODEL, threads=1)
    seen = []
    bb = atoms.calc.model.backbone
    for name in ('forward', 'tensor_forward'):            # whichever the calculator's engine calls
        f = getattr(bb, name)
        setattr(bb, name, lambda *a, _f=f, **k: (seen.append(torch.get_num_threads()), _f(*a, **k))[1])
    atoms.get_potential_energy()
    assert seen == [1] and torch.get_num_threads() == n
    with pytest.raises(Exception, match='threads must be an integer'): MolcrystCalculator(MODEL, threads=0)


def test_replicas_kill9_then_resume_each_from_its_own_frame(tmp_path):
    "SIGKILL a batched run of three replicas mid-run: every trajectory readable; resumed, each holds every frame once, as unbroken single runs."
    trajs = [tmp_path / f'rep{k}.traj' for k in range(3)]
    kw = dict(timestep_fs=DT, temperature_K=300, save_every=SAVE, log_every=SAVE)
    code = ('import torch; torch.set_num_threads(1)\n'
            'from molcryst.md import molecule_atoms, MolcrystCalculator\nfrom molcryst.replicas import run_replicas\n'
            f'run_replicas([molecule_atoms("ethanol")] * 3, MolcrystCalculator({MODEL!r}), trajectories={[str(t) for t in trajs]!r}, steps=20000, **{kw!r})')
    proc = subprocess.Popen([sys.executable, '-c', code], env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        t0 = time.time()
        while min(_n_frames(t) for t in trajs) < 8:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() - t0 < 240, 'the replicas wrote no frames in 4 minutes'
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL); proc.wait()
    before = [read_frames(t) for t in trajs]
    for b in before: assert [a.info['md_step'] for a in b] == list(range(0, SAVE * len(b), SAVE))
    total = max(b[-1].info['md_step'] for b in before) + 10 * SAVE
    from molcryst.replicas import run_replicas
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        res = run_replicas([molecule_atoms('ethanol')] * 3, MolcrystCalculator(MODEL), trajectories=trajs, resume=True, steps=total, **kw)
        refs = [run_md(molecule_atoms('ethanol'), MolcrystCalculator(MODEL), steps=total, seed=k, progress=False, **kw) for k in range(3)]
    finally: torch.set_num_threads(threads)
    for k, (t, b, r, ref) in enumerate(zip(trajs, before, res, refs)):
        assert r.start_step == b[-1].info['md_step'] and r.steps == total and r.stopped is None
        after = read_frames(t)
        assert [a.info['md_step'] for a in after] == list(range(0, total + 1, SAVE)), k
        for x, y in zip(b, after): np.testing.assert_array_equal(x.positions, y.positions)
        assert pd.read_csv(t.with_suffix('.csv')).step.tolist() == list(range(0, total + 1, SAVE))
        np.testing.assert_allclose(after[-1].positions, ref.atoms.positions, atol=1e-4)


def test_compiled_engine_equals_graph_engine_and_falls_back(monkeypatch, caplog):
    "engine='compiled' gives the graph engine's energies and forces (1e-5 relative) along a trajectory; a compiler that fails or miscompiles is caught."
    from molcryst.pretrained import load
    model = load(MODEL)
    res = run_md(molecule_atoms('ethanol'), MolcrystCalculator(model), steps=40, timestep_fs=0.5, temperature_K=500,
                 trajectory=None, save_every=5, log_every=5, progress=False)
    frames = [res.atoms.copy()]
    for k in range(3):
        a = res.atoms.copy(); a.rattle(0.05, seed=k); frames.append(a)
    def ef(calc, a):
        calc.calculate(a, ['energy', 'forces']); return calc.results['energy'], calc.results['forces']
    graph, comp = MolcrystCalculator(model, engine='graph'), MolcrystCalculator(model, engine='compiled')
    for a in frames:
        (e0, f0), (e1, f1) = ef(graph, a), ef(comp, a)
        assert comp.engine == 'compiled'
        assert abs(e1 - e0) <= 1e-5 * abs(e0) and np.abs(f1 - f0).max() <= 1e-5 * np.abs(f0).max()
    # a compiler that gives other numbers, or none, leaves the tensor engine's, with a warning
    wrong = lambda fn, **kw: (lambda *a, **k: tuple(x * 1.01 for x in fn(*a, **k)))   # (outputs, forces) 1 % off
    def broken(fn, **kw): raise RuntimeError('no C++ compiler here')
    for fake, says in ((wrong, 'differs from the tensor engine'), (broken, 'compiling failed (RuntimeError: no C++ compiler here)')):
        monkeypatch.setattr(torch, 'compile', fake)
        c = MolcrystCalculator(model, engine='compiled')
        with caplog.at_level('WARNING', logger='molcryst.md'):
            e, f = ef(c, frames[1])
        assert c.engine == 'tensor' and says in caplog.text
        e0, f0 = ef(graph, frames[1])
        assert abs(e - e0) <= 1e-5 * abs(e0) and np.abs(f - f0).max() <= 1e-5 * np.abs(f0).max()
        caplog.clear()


def test_molcryst_integrator_is_ase_bit_for_bit_with_resume_and_mixed_batches(tmp_path):
    "molcryst's integrator against ASE's classes (float64): Langevin run in two pieces (resumed), and a batch mixing NVE and Langevin replicas of two molecules."
    from molcryst.pretrained import load
    from molcryst.replicas import run_replicas
    model = load(MODEL)
    calc = lambda: MolcrystCalculator(model, dtype=torch.float64)
    eth, prop = molecule_atoms('ethanol'), molecule_atoms('n-propanol')
    kw = dict(timestep_fs=0.5, temperature_K=350, thermostat='langevin', friction=0.05, save_every=5, log_every=5, seed=7, progress=False)
    ends = {}
    for integrator in ('molcryst', 'ase'):
        t = tmp_path / f'{integrator}.traj'
        run_md(eth, calc(), steps=15, trajectory=t, integrator=integrator, **kw)
        r = run_md(eth, calc(), steps=30, trajectory=t, resume=True, integrator=integrator, **kw)
        assert (r.start_step, r.steps) == (15, 30)
        ends[integrator] = (r.atoms.positions, r.atoms.get_momenta(), pd.read_csv(t.with_suffix('.csv')).to_numpy())
    for a, b in zip(*ends.values()): np.testing.assert_array_equal(a, b)
    per = [dict(thermostat='langevin', friction=0.02, temperature_K=500), {}, dict(thermostat='langevin', friction=0.05), {}]
    reps = run_replicas([eth, prop, prop, eth], calc(), steps=25, timestep_fs=0.5, temperature_K=300, save_every=5, log_every=5, per_replica=per)
    for k, (a, extra) in enumerate(zip([eth, prop, prop, eth], per)):
        one = run_md(a, calc(), steps=25, timestep_fs=0.5, save_every=5, log_every=5, seed=k, progress=False, integrator='ase', **{'temperature_K': 300, **extra})
        np.testing.assert_allclose(reps[k].atoms.positions, one.atoms.positions, rtol=0, atol=1e-9)
        np.testing.assert_allclose(reps[k].log.etot.to_numpy(), one.log.etot.to_numpy(), rtol=0, atol=1e-9)


def test_replicas_split_over_worker_threads_equal_one_call():
    "A batch split into groups on worker threads (`workers`) gives the trajectories of one call (float64, mixed molecules, a group of one too); torch's thread count is left as it was; the graph engine is one call."
    from molcryst.pretrained import load
    from molcryst.core import ConfigError
    from molcryst.replicas import BatchEvaluator, run_replicas
    model = load(MODEL)
    calc = MolcrystCalculator(model, dtype=torch.float64)
    mols = [molecule_atoms('ethanol'), molecule_atoms('n-propanol'), molecule_atoms('ethanol')]
    kw = dict(steps=20, timestep_fs=0.5, temperature_K=300, thermostat='langevin', friction=0.05, save_every=5, log_every=5)
    threads = torch.get_num_threads()
    ends = {w: run_replicas(mols, calc, workers=w, **kw) for w in (1, 2, 3)}
    assert torch.get_num_threads() == threads
    for w in (2, 3):
        for a, b in zip(ends[1], ends[w]):
            np.testing.assert_allclose(b.atoms.positions, a.atoms.positions, rtol=0, atol=1e-9)
            np.testing.assert_allclose(b.log.etot.to_numpy(), a.log.etot.to_numpy(), rtol=0, atol=1e-9)
    assert BatchEvaluator(calc, 2).n_workers(1) == 1 and BatchEvaluator(calc, 4).n_workers(3) == 3
    calc.threads = 2; assert BatchEvaluator(calc).n_workers(8) == 2
    assert BatchEvaluator(MolcrystCalculator(model, engine='graph', threads=2)).n_workers(8) == 1
    with pytest.raises(ConfigError, match='workers'): BatchEvaluator(calc, 0)
