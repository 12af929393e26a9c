"""MD benchmark: steps per second on ethanol with `molcryst.md.MolcrystCalculator` against torchmd-net's own ASE
calculator (`torchmdnet.calculators.TMDNETCalculator`) for the same model, and the projected wall time of 10 ps of
NVE at 0.1 fs.

    .venv/bin/python benchmarks/md.py                       # about 3 minutes on 2 idle cores
    .venv/bin/python benchmarks/md.py --threads 1           # on a busy machine (two threads that wait for each other
                                                            # on oversubscribed cores are ~20x slower)
    .venv/bin/python benchmarks/md.py --steps 100 --repeats 1   # quick

The model is the shipped `et-ethanol-xtb` (TorchMD-NET equivariant transformer, 64 features, 4 layers); torchmd-net
loads the very same weights from a checkpoint written by `molcryst.md.to_torchmdnet_checkpoint`, and the two
calculators are checked to give the same energy and forces before anything is timed. Each timing is ASE's
`VelocityVerlet` for `--steps` steps from the same start (QM9's ethanol, 300 K velocities) after a short warm-up.
`MolcrystCalculator` runs with its defaults (a 1 Å Verlet skin) and without the skin. The calculators take turns
within each repeat and the median over repeats is reported, so a change in machine load hits all alike. Two process-wide settings change the speed of both calculators and are measured, not assumed:
torch's thread count, and flushing subnormal floats to zero (`torch.set_flush_denormal`, which `MolcrystCalculator`
turns on by default and torchmd-net does not).

Wall time is what a user waits; on a machine shared with other jobs it mostly measures the load, so the CPU time
of this process is reported too (with one thread it is what an otherwise idle core would take). The projection
runs the whole `molcryst.md.run_md` pipeline (trajectory frame every 10 steps, log every 100,
blow-up checks every step) with the best-configured `MolcrystCalculator` and scales to 100,000 steps.

Goals: MolcrystCalculator ≥ 1.0× torchmd-net's steps/s (same threads, same flush setting); 10 ps at 0.1 fs in
< 25 min on 2 cores. Not a test: nothing here asserts. Results are printed and written to benchmarks/results/md.md.
"""
from __future__ import annotations
import argparse, contextlib, io, os, platform, statistics, sys, tempfile, time, warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
RESULTS = HERE / 'results' / 'md.md'
GOAL_RATIO, GOAL_MINUTES = 1.0, 25.0


def _load_avg()->float:
    try: return os.getloadavg()[0]
    except OSError: return float('nan')


def steps_per_second(atoms, calc, steps:int, warmup:int=10)->tuple[float, float]:
    "ASE velocity Verlet with `calc` from a copy of `atoms`: steps per wall second and per CPU second of this process, after `warmup` steps."
    from ase import units
    from ase.md.verlet import VelocityVerlet
    a = atoms.copy(); a.calc = calc
    dyn = VelocityVerlet(a, 0.1 * units.fs)
    dyn.run(warmup)
    t, c = time.perf_counter(), time.process_time()
    dyn.run(steps)
    return steps / (time.perf_counter() - t), steps / (time.process_time() - c)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=300, help='timed steps per measurement (default 300)')
    p.add_argument('--repeats', type=int, default=3, help='repeats; the median is reported (default 3)')
    p.add_argument('--threads', default='1,2', help='torch thread counts to measure (default 1,2)')
    p.add_argument('--pipeline-steps', type=int, default=1000, help='steps of the run_md projection run (default 1000)')
    p.add_argument('--out', default=str(RESULTS))
    a = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    import numpy as np, torch
    with contextlib.redirect_stdout(io.StringIO()):
        from torchmdnet.calculators import TMDNETCalculator
    from molcryst.md import MolcrystCalculator, molecule_atoms, run_md, to_torchmdnet_checkpoint, _thermalize
    from molcryst.pretrained import load

    model = load('et-ethanol-xtb')
    atoms = molecule_atoms('ethanol')
    _thermalize(atoms, 300, np.random.default_rng(0))
    atoms.info['charge'] = 0                                     # TMDNETCalculator reads it
    tmp = Path(tempfile.mkdtemp())
    ck = to_torchmdnet_checkpoint(model, tmp / 'et-ethanol-xtb.tmd.ckpt')
    with contextlib.redirect_stdout(io.StringIO()): tmd = TMDNETCalculator(str(ck))
    calcs = {'torchmd-net TMDNETCalculator': tmd,
             'MolcrystCalculator': MolcrystCalculator(model),                 # its defaults: 1 Å Verlet skin
             'MolcrystCalculator, no skin': MolcrystCalculator(model, skin=0)}
    torch.set_flush_denormal(False)                               # measured both ways below

    # the same model: energies and forces agree before anything is timed
    ref = atoms.copy(); ref.calc = calcs['MolcrystCalculator']
    e0, f0 = ref.get_potential_energy(), ref.get_forces()
    other = atoms.copy(); other.calc = tmd
    de, df = abs(other.get_potential_energy() - e0), np.abs(other.get_forces() - f0).max()
    lines = [f'# MD benchmark ({time.strftime("%Y-%m-%d %H:%M")}, {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__})', '',
             f'Ethanol (9 atoms), et-ethanol-xtb; same model in both calculators: |ΔE| = {de:.1e} eV, max |ΔF| = {df:.1e} eV/Å.',
             f'{a.steps} timed steps of velocity Verlet per measurement, median of {a.repeats} interleaved repeats.', '']
    print('\n'.join(lines), flush=True)

    rows = []
    threads0 = torch.get_num_threads()
    load0 = _load_avg()
    for threads in [int(t) for t in a.threads.split(',')]:
        torch.set_num_threads(threads)
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            runs = {k: [] for k in calcs}
            for r in range(a.repeats):
                for name, c in calcs.items(): runs[name].append(steps_per_second(atoms, c, a.steps))
            base = statistics.median(w for w, _ in runs['torchmd-net TMDNETCalculator'])
            base_cpu = statistics.median(c for _, c in runs['torchmd-net TMDNETCalculator'])
            for name, v in runs.items():
                m, mc = statistics.median(w for w, _ in v), statistics.median(c for _, c in v)
                rows.append(dict(threads=threads, flush=flush, calculator=name, steps_s=m, ratio=m / base, cpu_steps_s=mc, cpu_ratio=mc / base_cpu))
                print(f'threads {threads}, flush denormals {flush!s:5}: {name:30s} {m:7.1f} steps/s ({m / base:.2f}×), '
                      f'{mc:7.1f} steps per CPU second ({mc / base_cpu:.2f}×)', flush=True)
    load1 = _load_avg()

    # the whole pipeline, with the best MolcrystCalculator setting found above
    best = max((r for r in rows if r['calculator'].startswith('Molcryst')), key=lambda r: r['steps_s'])
    torch.set_num_threads(best['threads']); torch.set_flush_denormal(best['flush'])
    calc = calcs[best['calculator']]
    c0 = time.process_time()
    res = run_md(atoms, calc, steps=a.pipeline_steps, timestep_fs=0.1, temperature_K=None, trajectory=tmp / 'bench.traj',
                 save_every=10, log_every=100, progress=False)
    cpu_sps = a.pipeline_steps / (time.process_time() - c0)
    minutes, cpu_minutes = 100_000 / res.steps_per_second / 60, 100_000 / cpu_sps / 60
    torch.set_num_threads(threads0)

    out = lines + ['| threads | flush subnormals | calculator | steps/s (wall) | × torchmd-net | steps per CPU s | × torchmd-net |',
                   '|---|---|---|---|---|---|---|']
    out += [f"| {r['threads']} | {'yes' if r['flush'] else 'no'} | {r['calculator']} | {r['steps_s']:.1f} | {r['ratio']:.2f} | "
            f"{r['cpu_steps_s']:.1f} | {r['cpu_ratio']:.2f} |" for r in rows]
    same = [r for r in rows if r['calculator'] == 'MolcrystCalculator']
    worst = min(r['ratio'] for r in same)
    defaults = [r for r in rows if r['threads'] == threads0]
    tmd_def = next((r['steps_s'] for r in defaults if not r['flush'] and r['calculator'].startswith('torchmd')), float('nan'))
    mc_def = next((r['steps_s'] for r in defaults if r['flush'] and r['calculator'] == 'MolcrystCalculator'), float('nan'))
    def_line = (f"Each with its own defaults ({threads0} threads; molcryst flushes subnormals, torchmd-net does not): {mc_def / tmd_def:.2f}×."
                if np.isfinite(mc_def / tmd_def) else f"(Each with its own defaults needs the default thread count, {threads0}, in --threads.)")
    out += ['',
            f"MolcrystCalculator against torchmd-net at the same settings (wall time): {worst:.2f}× at worst, "
            f"{max(r['ratio'] for r in same):.2f}× at best (goal ≥ {GOAL_RATIO:.1f}×: {'met' if worst >= GOAL_RATIO else 'NOT met'}); "
            f"by CPU time {min(r['cpu_ratio'] for r in same):.2f}× to {max(r['cpu_ratio'] for r in same):.2f}×.",
            def_line,
            f"run_md pipeline ({best['calculator']}, {best['threads']} thread(s), flush {best['flush']}, frame every 10 steps, "
            f"log every 100, blow-up checks): {res.steps_per_second:.1f} steps/s over {a.pipeline_steps} steps → "
            f"10 ps of NVE at 0.1 fs (100,000 steps) in {minutes:.1f} min of wall time at this load (goal < {GOAL_MINUTES:.0f} min: "
            f"{'met' if minutes < GOAL_MINUTES else 'NOT met'}); by this process's CPU time ({cpu_sps:.1f} steps per CPU second, "
            f"what one otherwise idle core would give with 1 thread) {cpu_minutes:.1f} min.",
            f'Load average (1 min) {load0:.1f} before the timings, {load1:.1f} after, on {os.cpu_count()} cores '
            f'(other jobs share the machine when this is above the core count).']
    text = '\n'.join(out)
    print('\n' + '\n'.join(out[len(lines):]))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text + '\n')
    print(f'\nwritten to {a.out}')


if __name__ == '__main__': main()
