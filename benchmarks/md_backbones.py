"""TorchMD-NET's equivariant transformer against TensorNet on ethanol (issue 21): accuracy and MD speed of the two
shipped force fields trained with one recipe, side by side in one process.

    .venv/bin/python benchmarks/md_backbones.py                    # about 3 minutes on one core
    .venv/bin/python benchmarks/md_backbones.py --save-reference   # and write benchmarks/reference/md-backbones.json

The models are the shipped `et-ethanol-xtb` (ET, 64 features, 4 layers) and `tensornet-ethanol-xtb` (TensorNet,
64 features, 2 layers: its own default depth), both trained by `scripts/train_md_models.py` on the same 1,000 frames
of the shipped GFN2-xTB ethanol trajectory (500 K), with the same 200 validation frames, loss (MSE, forces weight
0.99), optimizer, cosine schedule and 30 epochs. Accuracy: energy and force errors on the 800 held-out frames,
recomputed here (`molcryst.training.evaluate`) from each card's split. Speed: NVE at 0.1 fs through `run_md`
(molcryst's integrator, blow-up checks every step, nothing written) from the same start (QM9's ethanol, 300 K
velocities), with each engine of `MolcrystCalculator` (eager `tensor`, `torch.compile`d `compiled`), and
torchmd-net's own `TMDNETCalculator` in ASE's `VelocityVerlet` on the very same weights; every calculator is
checked against molcryst's graph engine before anything is timed. The models and calculators take turns within each
repeat and the median of `--repeats` is reported. Torch runs on `--threads` (1) threads with subnormals flushed
(the setting the models were trained with). Not a test: nothing asserts.
"""
from __future__ import annotations
import argparse, contextlib, io, statistics, sys, tempfile, time, warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent)); sys.path.insert(0, str(HERE))
MODELS = ('et-ethanol-xtb', 'tensornet-ethanol-xtb')
COLUMNS = ['model', 'backbone', 'parameters', 'epochs', 'train_minutes', 'energy_mae_mev', 'forces_mae_mev_a',
           'tmd_steps_s', 'tensor_steps_s', 'compiled_steps_s', 'compile_s']


def test_errors(name:str)->dict:
    "Energy and force MAE (meV, meV/Å) of a shipped model on the held-out frames of its card's split."
    from molcryst.config import TrainConfig
    from molcryst.pretrained import available, load
    from molcryst.training import _data_module, evaluate
    cfg = TrainConfig.from_dict(available()[name]['config'])
    dm = _data_module(cfg, None, progress=False, write_split=False)
    dm.setup()
    ds, idx = dm.dataset, dm.idx['test']
    m, _ = evaluate(load(name), ds, idx, batch_size=64, device='cpu')
    return dict(frames=len(idx), energy_mae_mev=1000 * m['energy']['mae'], forces_mae_mev_a=1000 * m['forces']['mae'])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', default=','.join(MODELS), help='shipped energy+forces models to compare (comma-separated)')
    p.add_argument('--steps', type=int, default=500, help='timed MD steps per measurement (default 500)')
    p.add_argument('--repeats', type=int, default=5, help='interleaved repeats; the median is reported (default 5)')
    p.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    p.add_argument('--save-reference', action='store_true', help='write benchmarks/reference/md-backbones.json (the README table)')
    a = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    import numpy as np, torch
    with contextlib.redirect_stdout(io.StringIO()):
        from torchmdnet.calculators import TMDNETCalculator
    from molcryst.md import MolcrystCalculator, molecule_atoms, _thermalize, to_torchmdnet_checkpoint
    from molcryst.pretrained import available, load
    from md import agreement, run_md_per_second, steps_per_second
    import report

    torch.set_num_threads(a.threads); torch.set_flush_denormal(True)
    names = [n.strip() for n in a.models.split(',') if n.strip()]
    atoms = molecule_atoms('ethanol')
    _thermalize(atoms, 300, np.random.default_rng(0))
    atoms.info['charge'] = 0                                     # TMDNETCalculator reads it
    tmp = Path(tempfile.mkdtemp())
    cpu = report.machine()
    print(f'# ET against TensorNet ({time.strftime("%Y-%m-%d %H:%M")}, {cpu["cpu"]}, {cpu["isa"]}, {a.threads} thread(s), torch {torch.__version__})', flush=True)

    rows, calcs, agree = {}, {}, {}
    for name in names:
        model, c = load(name), available()[name]
        t = time.perf_counter()
        comp = MolcrystCalculator(model, engine='compiled')
        x = atoms.copy(); x.calc = comp; x.get_forces(); compile_s = time.perf_counter() - t
        if comp.engine != 'compiled': print(f'{name}: the compiled engine fell back to the tensor engine', flush=True)
        with contextlib.redirect_stdout(io.StringIO()):
            tmd = TMDNETCalculator(str(to_torchmdnet_checkpoint(model, tmp / f'{name}.tmd.ckpt')))
        calcs[name] = {'tmd': tmd, 'tensor': MolcrystCalculator(model, engine='tensor'), 'compiled': comp}
        agree[name] = agreement(atoms, calcs[name], MolcrystCalculator(model, engine='graph'))
        err = test_errors(name)
        rows[name] = dict(model=name, backbone=c['config']['backbone'], parameters=sum(q.numel() for q in model.parameters()),
                          epochs=c['epochs'], train_minutes=round(c['seconds'] / 60, 1),
                          energy_mae_mev=round(err['energy_mae_mev'], 2), forces_mae_mev_a=round(err['forces_mae_mev_a'], 1),
                          compile_s=round(compile_s, 1), frames=err['frames'])
        print(f"{name}: {rows[name]['parameters']:,} parameters; test ({err['frames']} frames) energy MAE {err['energy_mae_mev']:.2f} meV, "
              f"forces MAE {err['forces_mae_mev_a']:.1f} meV/Å; agreement with the graph engine " +
              ', '.join(f'{k}: {de:.1e} / {df:.1e}' for k, (de, df) in agree[name].items()), flush=True)

    runs = {(n, k): [] for n in names for k in ('tmd', 'tensor', 'compiled')}
    for name in names:                                             # warm-up: every calculator has run its shapes once
        steps_per_second(atoms, calcs[name]['tmd'], 20)
        for k in ('tensor', 'compiled'): run_md_per_second(atoms, calcs[name][k], 20)
    for r in range(a.repeats):
        for name in names:
            runs[name, 'tmd'].append(steps_per_second(atoms, calcs[name]['tmd'], a.steps)[0])
            for k in ('tensor', 'compiled'): runs[name, k].append(run_md_per_second(atoms, calcs[name][k], a.steps)[0])
    for (name, k), v in runs.items(): rows[name][f'{k}_steps_s'] = round(statistics.median(v), 1)

    table = [rows[n] for n in names]
    out = ['| model | backbone | parameters | epochs | training (min) | energy MAE (meV) | forces MAE (meV/Å) | '
           'torchmd-net calculator steps/s | tensor engine steps/s | compiled engine steps/s |', '|---|---|---|---|---|---|---|---|---|---|']
    out += [f"| {r['model']} | {r['backbone']} | {r['parameters']:,} | {r['epochs']} | {r['train_minutes']} | {r['energy_mae_mev']} | "
            f"{r['forces_mae_mev_a']} | {r['tmd_steps_s']} | {r['tensor_steps_s']} | {r['compiled_steps_s']} |" for r in table]
    print('\n' + '\n'.join(out), flush=True)
    notes = [f"Ethanol (9 atoms), {a.steps} timed steps of NVE at 0.1 fs per measurement, median of {a.repeats} interleaved repeats, "
             f"{a.threads} torch thread(s), subnormals flushed. Errors on the {table[0]['frames']} held-out frames of each card's split "
             "(the same frames for both). The compiled engine's first call (which compiles) is not timed: "
             + ', '.join(f"{r['model']} {r['compile_s']} s" for r in table) + '.',
             'Agreement with the graph engine (|ΔE|/|E| / max |ΔF| / max |F|): ' + '; '.join(
                 f"{n}: " + ', '.join(f'{k} {de:.1e} / {df:.1e}' for k, (de, df) in agree[n].items()) for n in names) + '.']
    if len(table) == 2:
        x, y = table
        notes.append(f"{y['model']} against {x['model']}: forces MAE {y['forces_mae_mev_a'] / x['forces_mae_mev_a']:.2f}×, energy MAE "
                     f"{y['energy_mae_mev'] / x['energy_mae_mev']:.2f}×, MD steps/s {y['compiled_steps_s'] / x['compiled_steps_s']:.2f}× (compiled), "
                     f"{y['tensor_steps_s'] / x['tensor_steps_s']:.2f}× (tensor), {y['tmd_steps_s'] / x['tmd_steps_s']:.2f}× (torchmd-net's calculator).")
    print('\n'.join(notes))
    if a.save_reference:
        path = report.save('md-backbones', table, COLUMNS, command=' '.join(['python', 'benchmarks/md_backbones.py', *(sys.argv[1:] if argv is None else argv)]),
                           notes=notes, extra=dict(agreement={n: {k: list(v) for k, v in d.items()} for n, d in agree.items()}))
        print(f'written to {path}')


if __name__ == '__main__': main()
