"""GPU readiness: every backbone's forward/backward in fp32 and AMP (fp16, bf16), energy+forces, one epoch of QM9
training per backbone with its throughput, the MD calculator's steps/s, and `molcryst predict` on each shipped
model; one table. On a CUDA machine it runs on the GPU (within 10 minutes at the default sizes); elsewhere on the
CPU, where fp16 autocast is marked `skip` (it is CUDA's). `--quick` makes everything small (CI runs it so).

    bash benchmarks/gpu_check.sh                  # on a GPU machine: the table, and benchmarks/results/gpu_check.md
    bash benchmarks/gpu_check.sh --quick          # the CPU half, as CI runs it

Exit status 1 if any check failed (a non-finite loss or gradient, an exception, a wrong shape); `skip` is not a
failure. Not a speed test: the figures are for reading, measured once.
"""
from __future__ import annotations
import argparse, io, os, platform, statistics, subprocess, sys, tempfile, time, traceback, warnings
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
RESULTS = HERE / 'results' / 'gpu_check.md'
ROWS: list[dict] = []


def row(check, subject, precision, status, value=None, unit='', note=''):
    ROWS.append(dict(check=check, subject=subject, precision=precision, status=status,
                     value='' if value is None else f'{value:.4g}', unit=unit, note=note))
    print(f"{status:4s} {check:22s} {subject:18s} {precision:5s} {ROWS[-1]['value']:>10s} {unit:12s} {note}", flush=True)


def guarded(check, subject, precision):
    "Decorator-free guard: run `fn`, record an exception as FAIL."
    def run(fn):
        try: fn()
        except Exception as e:
            row(check, subject, precision, 'FAIL', note=f'{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ""}')
            traceback.print_exc(limit=3)
    return run


def _sync(dev):
    import torch
    if dev.type == 'cuda': torch.cuda.synchronize()


def backbones(a, dev, ds):
    "Forward/backward in each precision, and energy+forces, for every backbone on one QM9 batch."
    import torch
    from torch_geometric.data import Batch
    from molcryst.models import BACKBONES, get_model, preset
    from molcryst.models.layers import energy_forces
    batch = Batch.from_data_list([ds[i] for i in range(min(a.batch_size, len(ds)))]).to(dev)
    precisions = [('fp32', None), ('fp16', torch.float16), ('bf16', torch.bfloat16)]
    for name in BACKBONES:
        torch.manual_seed(0)
        model = get_model(name, **preset(name, a.preset)).to(dev).train()
        for pname, dtype in precisions:
            if dtype is torch.float16 and dev.type != 'cuda':
                row('forward+backward', name, pname, 'skip', note='fp16 autocast is CUDA\'s'); continue
            if dtype is torch.bfloat16 and dev.type == 'cuda' and not torch.cuda.is_bf16_supported():
                row('forward+backward', name, pname, 'skip', note='this GPU has no bf16'); continue
            @guarded('forward+backward', name, pname)
            def _():
                times = []
                for k in range(a.steps + 1):
                    model.zero_grad(set_to_none=True)
                    _sync(dev); t = time.perf_counter()
                    with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                        out = model(batch)
                        loss = out.float().square().mean()
                    loss.backward()
                    _sync(dev); times.append(time.perf_counter() - t)
                grads = [p.grad for p in model.parameters() if p.grad is not None]
                finite = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(g).all()) for g in grads)
                row('forward+backward', name, pname, 'ok' if finite and grads else 'FAIL', batch.num_graphs / statistics.median(times[1:]),
                    'graphs/s', '' if finite else 'non-finite loss or gradient')
        @guarded('energy+forces', name, 'fp32')
        def _():
            model.eval()
            out, f, _ = energy_forces(model, batch.clone())
            ok = f.shape == batch.pos.shape and bool(torch.isfinite(f).all()) and bool(torch.isfinite(out).all())
            zero = ok and float(f.abs().max()) == 0
            row('energy+forces', name, 'fp32', 'ok' if ok else 'FAIL', float(f.abs().max()), 'max |F|',
                f'forces {tuple(f.shape)}' if not ok else 'zero: its untrained output layer starts at zero' if zero else '')


def training(a, dev, cache):
    "One epoch of QM9 training per backbone through `fit` (accelerator auto: the GPU when there is one)."
    from molcryst.models import BACKBONES
    from molcryst.training import TrainConfig, fit
    for name in BACKBONES:
        @guarded('train 1 epoch', name, 'fp32')
        def _():
            cfg = TrainConfig(dataset='qm9', targets=['homo'], backbone=name, model_preset=a.preset, epochs=1, batch_size=a.batch_size,
                              dataset_kwargs=dict(limit=a.train_limit, progress=False), run_dir=str(Path(cache) / f'train-{name}'),
                              accelerator='gpu' if dev.type == 'cuda' else 'cpu')
            t = time.perf_counter()
            with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
                warnings.simplefilter('ignore')
                run = fit(cfg, overwrite=True, progress=False)
            s = time.perf_counter() - t
            mae = run.metrics['test']['homo']['mae']
            ok = mae == mae and mae < float('inf')
            row('train 1 epoch', name, 'fp32', 'ok' if ok else 'FAIL', run.metrics['train_size'] / s if 'train_size' in run.metrics else a.train_limit * 0.8 / s,
                'graphs/s', f'incl. validation and test; test MAE {mae:.3g} eV')


def md(a, dev):
    "The MD calculator's steps/s on ethanol (ASE velocity Verlet, 0.1 fs), tensor and compiled engines."
    import numpy as np
    from ase import units
    from ase.md.verlet import VelocityVerlet
    from molcryst.md import MolcrystCalculator, molecule_atoms
    for engine in ('tensor', 'compiled'):
        @guarded('MD steps/s', f'ethanol, {engine}', 'fp32')
        def _():
            calc = MolcrystCalculator('et-ethanol-xtb', device=dev, engine=engine)
            at = molecule_atoms('ethanol'); at.calc = calc
            dyn = VelocityVerlet(at, 0.1 * units.fs)
            dyn.run(10)
            t = time.perf_counter(); dyn.run(a.md_steps); s = time.perf_counter() - t
            ok = np.isfinite(at.get_forces()).all() and calc.engine == engine
            row('MD steps/s', f'ethanol, {engine}', 'fp32', 'ok' if ok else 'FAIL', a.md_steps / s, 'steps/s',
                f'device {calc.device}' + ('' if calc.engine == engine else f'; fell back to {calc.engine}'))


def predict(a, dev):
    "`molcryst predict` (the command line) on each shipped model, on an input of its kind."
    from molcryst import pretrained
    inputs = {'schnet-qm9-homo': ['CCO', 'c1ccccc1'], 'et-ethanol-xtb': ['CCO'], 'et-uracil-xtb': ['O=C1C=CNC(=O)N1']}
    try:
        from molcryst.mofs import coremof_dir
        from molcryst.graphs import check_min_distance, neighbor_list, resolve_min_distance
        from molcryst.inference import read_structures
        cifs = []
        for c in sorted(Path(coremof_dir()).glob('*.cif'))[:40]:   # two that predict accepts (CoRE MOF holds some with atoms too close)
            try:
                at = read_structures(str(c))[0][1]
                if len(at) > 300: continue
                i, j, _, d = neighbor_list(at.positions, at.cell.array, at.pbc, 2.0)
                check_min_distance(at.numbers, at.positions, at.cell.array, at.pbc, resolve_min_distance(None), c.name, (i, j, d), 2.0)
                cifs.append(str(c))
            except Exception: continue
            if len(cifs) == 2: break
        if cifs: inputs['cgcnn-coremof-vf'] = cifs
    except Exception: pass
    exe = Path(sys.executable).with_name('molcryst')
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'molcryst.cli']
    for name in pretrained.available():
        if name not in inputs:
            row('molcryst predict', name, 'fp32', 'skip', note='no input of its kind here (CoRE MOF CIFs not installed)'); continue
        @guarded('molcryst predict', name, 'fp32')
        def _():
            import pandas as pd
            out = Path(tempfile.mkdtemp()) / 'p.csv'
            t = time.perf_counter()
            r = subprocess.run([*cmd, 'predict', name, *inputs[name], '--out', str(out)], capture_output=True, text=True, timeout=600,
                               env={**os.environ, **({} if dev.type == 'cuda' else {'CUDA_VISIBLE_DEVICES': ''})})
            s = time.perf_counter() - t
            if r.returncode != 0: raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f'exit {r.returncode}')
            df = pd.read_csv(out)
            target = pretrained.available()[name]['config']['targets'][0]
            col = next(c for c in df.columns if c.startswith(target))
            ok = len(df) == len(inputs[name]) and df[col].notna().all()
            row('molcryst predict', name, 'fp32', 'ok' if ok else 'FAIL', s, 's (process)', f'{len(df)} structures')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='tiny models and data (the CPU half in CI)')
    p.add_argument('--device', default=None, help='cuda or cpu (default: cuda when available)')
    p.add_argument('--parts', default='backbones,training,md,predict')
    p.add_argument('--out', default=str(RESULTS))
    a = p.parse_args(argv)
    import torch
    dev = torch.device(a.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    a.preset = 'tiny' if a.quick else 'paper'
    a.batch_size, a.steps = (8, 2) if a.quick else (64, 10)
    a.train_limit = 60 if a.quick else 20000
    a.md_steps = 50 if a.quick else 1000
    from molcryst.datasets import QM9
    ds = QM9('homo', limit=max(a.batch_size, 16), progress=False)
    gpu = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else platform.processor() or platform.machine()
    head = f'# GPU check ({time.strftime("%Y-%m-%d %H:%M")}, device {dev} = {gpu}, torch {torch.__version__}, {"quick" if a.quick else "full"} sizes)'
    print(head, flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        for part in a.parts.split(','):
            {'backbones': lambda: backbones(a, dev, ds), 'training': lambda: training(a, dev, cache), 'md': lambda: md(a, dev),
             'predict': lambda: predict(a, dev)}[part]()
    lines = [head, '', f'{time.perf_counter() - t0:.0f} s in all.', '', '| check | subject | precision | status | value | unit | note |', '|---|---|---|---|---|---|---|']
    lines += [f"| {r['check']} | {r['subject']} | {r['precision']} | {r['status']} | {r['value']} | {r['unit']} | {r['note']} |" for r in ROWS]
    text = '\n'.join(lines)
    print('\n' + text)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text + '\n')
    failed = [r for r in ROWS if r['status'] == 'FAIL']
    print(f"\n{len(ROWS)} checks: {sum(r['status'] == 'ok' for r in ROWS)} ok, {len(failed)} failed, {sum(r['status'] == 'skip' for r in ROWS)} skipped; written to {a.out}")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
