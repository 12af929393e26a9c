"""Model benchmark: training throughput of every backbone, SchNet vs PyG, the TorchMD-NET wrapper vs torchmd-net, CGCNN list vs padded, SchNet vs schnetpack 2.2.

Prints markdown tables and writes them to benchmarks/results/models.md. Speed is judged by ratios
measured side by side in one run (medians over repeats), not by absolute seconds.

    .venv/bin/python benchmarks/models.py                  # everything (about 10 min on 2 cores)
    .venv/bin/python benchmarks/models.py --parts 2,3      # only SchNet vs PyG and TorchMD-NET
    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python benchmarks/models.py --parts 6 --save-reference   # SchNet vs schnetpack, one core

Part 6 needs schnetpack 2.2, which is not a molcryst requirement and declares Python >= 3.12; on 3.11 install its
import-time dependencies (fasteners matscipy dirsync progressbar omegaconf torch-ema), then
`pip install --no-deps --ignore-requires-python 'schnetpack==2.2.*'`. Without it, part 6 is skipped with a message.
    .venv/bin/python benchmarks/models.py --n-qm9 300 --epochs 1 --repeats 2 --cgcnn-steps 1 --skip-full   # quick

Not a test: nothing here asserts. Thread counts are left at their defaults (no OMP_NUM_THREADS).
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / 'results' / 'models.md'
GOAL_SCHNET = 1.3        # molcryst SchNet >= 1.3x PyG's graphs/s
GOAL_TMD = 5.0           # wrapper overhead <= 5 % over torchmd-net called directly
GOAL_CG_MEM, GOAL_CG_TIME = 1 / 3, 1 / 2   # CGCNN list form <= 1/3 the memory, <= 1/2 the time of the padded form
AGREE_RTOL = 1e-5
MiB = 2**20

def _setup_path(molcryst_path=None):
    "Import molcryst from `molcryst_path` (a patched copy, to measure a change) or from this checkout."
    if str(HERE) not in sys.path: sys.path.insert(0, str(HERE))
    import featurize  # noqa: F401  (its memory helpers; importing it puts this checkout first on sys.path)
    p = str(Path(molcryst_path or HERE.parent).resolve())
    if p in sys.path: sys.path.remove(p)
    sys.path.insert(0, p)                                      # ... so the chosen molcryst goes in front of it

def _quiet_import_torchmdnet():
    "torchmd-net initialises NVIDIA Warp on import, which prints a banner to stdout; keep it out of the tables."
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()): import torchmdnet.models.model  # noqa: F401

# ----------------------------------------------------------------------------- memory / timing helpers
def tensor_peak_mib(fn)->tuple[float, object]:
    """Run `fn()` under `torch.profiler` with `profile_memory=True`; the highest total of live tensor bytes
    allocated during the call above the start (MiB). Sees every CPU tensor allocation, whatever the allocator keeps."""
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    ev = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == '[memory]')
    cur = peak = 0
    for _, nb in ev: cur += nb; peak = max(peak, cur)
    return peak / MiB, out

class OtherCPU:
    "CPU seconds used by other processes over a block: all busy CPU time (/proc/stat) minus this process and its children."
    @staticmethod
    def _busy():
        try: v = [int(x) for x in Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:]]
        except (OSError, ValueError): return None
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK')    # all but idle and iowait
    @staticmethod
    def _own():
        t = os.times(); return t.user + t.system + t.children_user + t.children_system
    def __enter__(self): self.b0, self.o0, self.t0 = self._busy(), self._own(), time.perf_counter(); return self
    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        b1 = self._busy()
        self.other = None if b1 is None or self.b0 is None else max(0.0, (b1 - self.b0) - (self._own() - self.o0))
    def so_far(self)->str:
        "`line()` for the run up to now (the block still open)."
        import copy
        c = copy.copy(self); c.__exit__(None, None, None); return c.line()
    def line(self):
        if self.other is None: return 'CPU use of other processes: unknown'
        return (f'Other processes used {self.other:.0f} CPU-s during the {self.wall / 60:.1f} min run '
                f'({self.other / self.wall * 100:.1f} % of one core on average; the timings assume an otherwise idle machine).')

def _med(xs): return statistics.median(xs) if xs else float('nan')

def _rel(u, v)->float:
    "max |u − v| / max |v| (arrays or tensors)."
    return float(abs(u - v).max() / abs(v).max())

def _child(args:list[str], env=None, expect:str|None=None)->dict:
    "Run this script with `args` in a fresh interpreter; its last stdout line is a JSON result. `expect`: the molcryst it must import (default this process's)."
    import molcryst
    p = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if p.returncode: raise RuntimeError(f'child {args} failed:\n{p.stderr[-4000:]}')
    r = json.loads(p.stdout.strip().splitlines()[-1])
    expect = expect or molcryst.__file__
    if r.get('molcryst') != expect:
        raise RuntimeError(f'child imported molcryst from {r.get("molcryst")}, expected {expect}')
    return r

def _loss_step(model, opt, b):
    "One training step on the graphs' first target (MSE): forward, backward, Adam step."
    opt.zero_grad(set_to_none=True)
    out = model(b)
    loss = (out[:, 0] - b.y[:, 0].to(out.dtype)).pow(2).mean()
    loss.backward(); opt.step()
    return out.detach()

# ----------------------------------------------------------------------------- part 1: every backbone on QM9
def _fit_loader(ds, batch_size):
    """The loader `fit` trains with, in whichever molcryst is imported: `graph_loader` over the seeded `EpochSampler`
    where that version has it, else PyG's `DataLoader` over the same sampler (molcryst before issue 22); the allocator
    setting `fit` applies, where that version has one. Returns (loader, sampler, allocator applied)."""
    import torch
    from molcryst import core, datamodule as dm
    tuned = bool(core.tune_allocator()) if hasattr(core, 'tune_allocator') else False
    sampler = dm.EpochSampler(len(ds), 0)
    if hasattr(dm, 'graph_loader'): return dm.graph_loader(ds, batch_size=batch_size, sampler=sampler), sampler, tuned
    from torch_geometric.loader import DataLoader
    return DataLoader(torch.utils.data.Subset(ds, list(range(len(ds)))), batch_size=batch_size, sampler=sampler), sampler, tuned

def _train_child(name, root, n_qm9, epochs, batch_size, model_kwargs=None, profile_steps=0, fit_loader=False, compiled=False):
    """Fresh process: one backbone, warm-up epoch + `epochs` timed epochs on QM9; peak memory; with `profile_steps`,
    a profile of that many more steps (self CPU time per operator, and per part of the model where it names them).
    `fit_loader`: batches and allocator as `fit` trains (`_fit_loader`) instead of PyG's shuffling `DataLoader`;
    `compiled`: the backbone through `compile_backbone` as `fit` runs it with `TrainConfig.compile` (the warm-up epoch
    includes compiling)."""
    import numpy as np, torch
    from torch_geometric.data import Batch
    from torch_geometric.loader import DataLoader
    from featurize import RssPeak, _status_kib
    from molcryst.datasets import QM9
    from molcryst.models import BACKBONES, get_model
    if name == 'torchmdnet': _quiet_import_torchmdnet()
    ds = QM9('homo', limit=n_qm9, cutoff=5.0, progress=False, root=root)
    torch.manual_seed(0)
    model = get_model(name, **(model_kwargs or {})).train()
    sampler, tuned = None, False
    if fit_loader:                                   # as fit trains: its loader, allocator and optimiser (Adam, lr 1e-3)
        from molcryst.config import TrainConfig
        from molcryst.graphmodel import make_optimizer
        loader, sampler, tuned = _fit_loader(ds, batch_size)
        opt = make_optimizer(TrainConfig(optimizer='adam', learning_rate=1e-3), model.parameters())
    else:
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    fixed = Batch.from_data_list([ds[int(i)] for i in np.random.default_rng(0).choice(len(ds), min(batch_size, len(ds)), replace=False)])
    rss_setup = _status_kib('VmRSS') / 1024
    with RssPeak() as mem:
        tpeak, _ = tensor_peak_mib(lambda: _loss_step(model, opt, fixed))   # first step, profiled (untimed)
        times, fwd, t_compile = [], model, None
        if compiled:
            from molcryst.graphmodel import compile_backbone
            t0 = time.perf_counter(); fwd = compile_backbone(model, fixed); t_compile = time.perf_counter() - t0
            if fwd is model: raise RuntimeError(f'{name}: compile_backbone fell back to eager')
        for ep in range(epochs + 1):                                        # epoch 0: warm-up, not timed
            if sampler is not None: sampler.set_epoch(ep)
            t0 = time.perf_counter()
            for b in loader: _loss_step(fwd, opt, b)
            times.append(time.perf_counter() - t0)
    prof = _profile_steps(model, opt, loader, profile_steps) if profile_steps else None
    cls, defaults = BACKBONES[name]
    import molcryst
    return dict(molcryst=molcryst.__file__, name=name, cls=cls.__name__, params=sum(p.numel() for p in model.parameters()),
                cutoff=defaults.get('cutoff', defaults.get('radius')), n=len(ds), epoch_s=times[1:], warmup_s=times[0],
                rss_delta_mib=mem.delta, rss_setup_mib=rss_setup, tensor_peak_mib=tpeak,
                fixed_atoms=fixed.num_nodes, fixed_edges=fixed.edge_index.shape[1], model_kwargs=model_kwargs or {},
                profile=prof, edge_impl=_auto_impl(model, fixed), loader=type(loader).__module__ + '.' + type(loader).__name__,
                collate=type(getattr(loader, 'collate_fn', None)).__name__, allocator_tuned=tuned,
                fused_optimizer=bool(opt.defaults.get('fused')), compiled=compiled, compile_s=t_compile)

def _auto_impl(model, batch):
    "The edge-network form an MPNN uses on `batch` ('auto' resolved); None for other backbones."
    if not hasattr(model, 'edge_impl'): return None
    if model.edge_impl != 'auto': return model.edge_impl
    from molcryst.models.mpnn import edge_blocks, edge_impl_for
    return edge_impl_for(model.conv, batch.edge_index.shape[1], edge_blocks(model.conv, batch), model.num_steps)

PARTS_OF = {'edge network (once per forward)': ('edge_messages',), 'message passing step': ('step',), 'readout': ('pool',)}

def _profile_steps(model, opt, loader, n):
    """Self CPU time per operator over `n` training steps, and the inclusive time of the forward's parts (the MPNN's
    `edge_messages`, `step`, `pool`, wrapped in `record_function`), the backward pass and the optimiser."""
    import itertools, torch
    from torch.profiler import profile, record_function
    cls = type(model)
    wrapped = {}
    for label, names in PARTS_OF.items():
        for m in names:
            f = getattr(cls, m, None)
            if f is None: continue
            def w(self, *args, _f=f, _l=label, **kw):
                with record_function('## ' + _l): return _f(self, *args, **kw)
            wrapped[m] = f; setattr(cls, m, w)
    try:
        batches = list(itertools.islice(iter(loader), n))
        with profile() as prof:
            for b in batches:
                with record_function('## forward + loss'):
                    opt.zero_grad(set_to_none=True); out = model(b); loss = (out[:, 0] - b.y[:, 0].to(out.dtype)).pow(2).mean()
                with record_function('## backward'): loss.backward()
                with record_function('## optimiser'): opt.step()
    finally:
        for m, f in wrapped.items(): setattr(cls, m, f)
    ka = prof.key_averages()
    parts = {e.key[3:]: e.cpu_time_total / n / 1e3 for e in ka if e.key.startswith('## ')}
    ops = sorted(((e.key, e.self_cpu_time_total / n / 1e3, e.count // n) for e in ka if not e.key.startswith('## ')), key=lambda t: -t[1])
    total = sum(t for _, t, _ in ops)
    return dict(steps=n, ms_per_step=total, parts=parts, ops=[list(o) for o in ops[:12]])

def bench_train(a, root, child_args):
    from molcryst.models import BACKBONES
    res = []
    for name in BACKBONES:
        r = _child(['--_train-child', name, '--_root', str(root), '--n-qm9', str(a.n_qm9), '--epochs', str(a.epochs),
                    '--batch-size', str(a.batch_size), *child_args])
        res.append(r)
        print(f'  {name:<17s} {r["n"] / _med(r["epoch_s"]):7.1f} graphs/s  (epochs {", ".join(f"{t:.1f}" for t in r["epoch_s"])} s; '
              f'warm-up {r["warmup_s"]:.1f} s)  peak RSS +{r["rss_delta_mib"]:.0f} MiB', flush=True)
    return res

def train_table(res, a, ds_info):
    rows = [f'| backbone | class | parameters | graphs/s (median of {a.epochs} epoch{"s" if a.epochs > 1 else ""}) | s/epoch | '
            'peak RSS Δ MiB | peak tensor MiB (1 step) | internal cut-off |', '|---|---|---|---|---|---|---|---|']
    for r in res:
        med = _med(r['epoch_s'])
        cut = '—' if r['cutoff'] is None else f"{r['cutoff']:g} Å"
        rows.append(f'| `{r["name"]}` | `{r["cls"]}` | {r["params"]:,} | {r["n"] / med:.1f} | '
                    f'{med:.2f} ({", ".join(f"{t:.2f}" for t in r["epoch_s"])}) | {r["rss_delta_mib"]:.0f} | '
                    f'{r["tensor_peak_mib"]:.0f} | {cut} |')
    f = res[0]
    return (f'{ds_info}. Every backbone at its registry default size (`get_model(name)`), a fresh process each; '
            f'batch size {a.batch_size}, PyG `DataLoader(shuffle=True)` (collation is part of the timed epoch), Adam (lr 1e-3), '
            'MSE on `homo`; one warm-up epoch, then the timed epochs. The graph cut-off is 5 Å for every model: '
            'a model with a larger internal cut-off sees the same 5 Å graph.\n\n'
            'Peak RSS Δ: kernel high-water mark (`VmHWM`, reset through `/proc/self/clear_refs`) above the RSS after '
            'the data, model and optimiser were set up, over the whole training run of that process. '
            f'Peak tensor: highest total of live tensor bytes during one training step (`torch.profiler`, '
            f'`profile_memory=True`) on a fixed batch of {a.batch_size} molecules ({f["fixed_atoms"]} atoms, '
            f'{f["fixed_edges"]:,} edges; `default_rng(0)` choice), the first step of the process (Adam state included).\n\n'
            + '\n'.join(rows))

# ----------------------------------------------------------------------------- part 7: every backbone against a baseline
SPEEDUP_BACKBONES = ('cgcnn', 'schnet', 'physnet', 'mpnn', 'mpnn_transformer', 'torchmdnet')
GOAL_SPEEDUP = 1.5        # issue 22: the other backbones >= 1.5x the training graphs/s of molcryst before it
SPEEDUP_OWN_GOAL = {'schnet': '— (part 6: × schnetpack)', 'mpnn': '— (its own issue: part 5)', 'mpnn_transformer': '— (its own issue: part 5)'}

def _baseline_rev(path:Path)->str:
    try: return subprocess.run(['git', '-C', str(path), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip() or '?'
    except OSError: return '?'

def bench_speedup(a, child_args):
    """Each backbone of `--backbones` trains as `fit` does (`_fit_loader`) in a fresh process, once with the molcryst of
    `--baseline` and once with this one, the two sides interleaved over `--baseline-repeats` rounds (the order alternates
    per round). Each side reads a QM9 cache its own version built (the store format may differ between versions)."""
    base_init = str((a.baseline / 'molcryst' / '__init__.py').resolve())
    if not Path(base_init).exists(): raise SystemExit(f'--baseline {a.baseline}: no molcryst/__init__.py there')
    import molcryst
    roots = {s: Path(tempfile.mkdtemp(prefix=f'molcryst-speedup-{s}-')) for s in ('baseline', 'molcryst')}
    sides = {'baseline': (['--molcryst', str(a.baseline)], base_init), 'molcryst': (child_args, molcryst.__file__),
             'compiled': (child_args + ['--_compiled'], molcryst.__file__)}
    names = [n for n in a.backbones.split(',') if n]
    comp = {n for n in a.compile_backbones.split(',') if n}
    runs = {n: {s: [] for s in sides if s != 'compiled' or n in comp} for n in names}
    try:
        for rep in range(a.baseline_repeats):
            for n in names:
                order = list(runs[n]) if rep % 2 == 0 else list(runs[n])[::-1]
                for s in order:
                    args, expect = sides[s]
                    r = _child(['--_train-child', n, '--_root', str(roots['baseline' if s == 'baseline' else 'molcryst']), '--n-qm9', str(a.n_qm9),
                                '--epochs', str(a.epochs), '--batch-size', str(a.batch_size), '--_fit-loader', *args], expect=expect)
                    runs[n][s].append(r)
                    print(f'  round {rep + 1} {n:<17s} {s:<9s} {r["n"] / _med(r["epoch_s"]):7.1f} graphs/s', flush=True)
    finally:
        import shutil
        for r in roots.values(): shutil.rmtree(r, ignore_errors=True)
    return dict(runs=runs, baseline_rev=_baseline_rev(a.baseline))

def _pipeline(x:dict)->str:
    "What a side's training loop used: its collation, the allocator setting, a fused optimiser."
    return ', '.join([x['collate'], *(['allocator'] if x.get('allocator_tuned') else []), *(['fused Adam'] if x.get('fused_optimizer') else [])])

def speedup_rows(r)->list[dict]:
    rows = []
    for n, sides in r['runs'].items():
        gps = {s: [x['n'] / _med(x['epoch_s']) for x in xs] for s, xs in sides.items()}
        b, m = _med(gps['baseline']), _med(gps['molcryst'])
        ratio = m / b
        c = _med(gps['compiled']) if 'compiled' in gps else None
        best = max(ratio, c / b if c else 0.0)
        rows.append(dict(backbone=n, baseline=round(b, 1), molcryst=round(m, 1), speedup=f'{ratio:.2f}×',
                         rounds=' / '.join(f'{y:.0f}:{x:.0f}' for x, y in zip(gps['baseline'], gps['molcryst'])),
                         compiled=round(c, 1) if c else None, compiled_speedup=f'{c / b:.2f}×' if c else None,
                         compile_s=round(_med([x['compile_s'] + x['warmup_s'] for x in sides['compiled']]), 0) if c else None,
                         loader=' vs '.join(_pipeline(sides[s][0]) for s in ('molcryst', 'baseline')),
                         goal=SPEEDUP_OWN_GOAL.get(n) or ('✅' if best >= GOAL_SPEEDUP else '❌')))
    return rows

def speedup_table(r, a, ds_info)->tuple[str, list[dict]]:
    rows = speedup_rows(r)
    head = ('| backbone | before graphs/s | now graphs/s | × before | per round (now:before) | now, compiled graphs/s | × before | '
            'compiling + warm-up epoch (s) | training loop (now vs before) | goal ≥ 1.5× |\n|---|---|---|---|---|---|---|---|---|---|')
    body = '\n'.join(f"| `{x['backbone']}` | {x['baseline']} | {x['molcryst']} | {x['speedup']} | {x['rounds']} | {x['compiled'] or '–'} | "
                     f"{x['compiled_speedup'] or '–'} | {x['compile_s'] if x['compile_s'] is not None else '–'} | {x['loader']} | {x['goal']} |" for x in rows)
    text = (f'{ds_info}. "Before": molcryst at `{r["baseline_rev"]}` (`--baseline`), "now": this checkout. Each backbone at its '
            f'registry default size trains as `fit` trains in that version (its loader over the seeded `EpochSampler`, its '
            f'allocator setting where it has one, and Adam from its `make_optimizer`, fused where it is), batch {a.batch_size}, '
            f'lr 1e-3, MSE on `homo`; a fresh process per '
            f'side and round, the sides interleaved over {a.baseline_repeats} rounds (order alternating), medians over rounds '
            f'of the median of {a.epochs} timed epoch(s) after one warm-up epoch. "Compiled": this checkout with '
            f'`TrainConfig.compile` (`compile_backbone`: `torch.compile(dynamic=True)`, checked against eager on one batch), '
            f'a third side in the same rounds; its compile time and warm-up epoch are a separate column. Goal (issue 22): CGCNN, PhysNet and TorchMD-NET '
            f'≥ {GOAL_SPEEDUP}× before (SchNet is measured against schnetpack in part 6, the MPNNs have their own issue and part 5).')
    return text + '\n\n' + head + '\n' + body, rows

# ----------------------------------------------------------------------------- part 8: roofline of a training step
ROOF_BACKBONES = ('schnet', 'cgcnn', 'physnet', 'torchmdnet')
GOAL_CEILING = 0.70       # issue 22: SchNet training >= 70 % of the realistic ceiling measured
MM_OPS = {'aten::mm', 'aten::addmm', 'aten::bmm', 'aten::baddbmm'}
FREE_OPS = {'aten::view', 'aten::reshape', 'aten::_reshape_alias', 'aten::as_strided', 'aten::t', 'aten::transpose',
            'aten::permute', 'aten::expand', 'aten::expand_as', 'aten::unsqueeze', 'aten::squeeze', 'aten::select',
            'aten::slice', 'aten::split', 'aten::split_with_sizes', 'aten::narrow', 'aten::chunk', 'aten::unbind',
            'aten::empty', 'aten::empty_strided', 'aten::empty_like', 'aten::alias', 'aten::detach', 'aten::detach_',
            'aten::lift_fresh', 'aten::resize_', 'aten::view_as', 'aten::_unsafe_view', 'aten::result_type', 'aten::item',
            'aten::_local_scalar_dense', 'aten::is_nonzero', 'aten::set_', 'aten::numpy_T', 'aten::to', 'aten::_to_copy'}
GATHERS = {'aten::index_select', 'aten::gather', 'aten::embedding', 'aten::index'}
SCATTERS = {'aten::index_add_', 'aten::index_add', 'aten::scatter_add_', 'aten::scatter_add', 'aten::scatter_reduce_',
            'aten::scatter_reduce', 'aten::index_put_', 'aten::embedding_dense_backward', 'aten::index_select_backward'}
REDUCTIONS = {'aten::sum', 'aten::mean', 'aten::linalg_vector_norm', 'aten::norm', 'aten::amax', 'aten::max', 'aten::min',
              'aten::var_mean', 'aten::std', 'aten::var', 'aten::native_batch_norm', 'aten::native_layer_norm'}

def _numel(s)->int:
    n = 1
    for d in s: n *= int(d)
    return n

def _op_cost(name:str, shapes:list)->tuple[str, float]:
    """`(kind, amount)` of one operator from its input shapes: ('mm', FLOPs) for matrix products, else
    ('memory', bytes it must move at the least: every operand read once and its result written once, 4 bytes an element
    (int64 indices counted at 4 too, so the bound is if anything too low)), or ('unknown', 0) for list inputs the profiler
    does not record (cat, the foreach kernels)."""
    sh = [s for s in shapes if isinstance(s, (list, tuple)) and len(s)]
    if name in FREE_OPS: return 'free', 0.0
    if name == 'aten::linear':                              # input [..., k], weight [n, k]
        if len(sh) < 2: return 'unknown', 0.0
        return 'mm', 2.0 * _numel(sh[0][:-1]) * sh[0][-1] * sh[1][0]
    if name in MM_OPS:
        m = [s for s in sh if len(s) >= 2][-2:]
        if len(m) < 2: return 'unknown', 0.0
        (a, b) = m
        batch = _numel(a[:-2]) if len(a) > 2 else 1
        return 'mm', 2.0 * batch * a[-2] * a[-1] * b[-1]
    if not sh: return ('unknown', 0.0) if name in ('aten::cat', 'aten::stack') or name.startswith('aten::_foreach') or 'fused' in name else ('free', 0.0)
    sizes = [_numel(s) for s in sh]
    if name in GATHERS:                                     # out = index rows × row size; read those rows, write them
        src = sh[0]
        idx = next((x for x in sh[1:] if len(x) == 1), sh[1] if len(sh) > 1 else sh[0]) if name != 'aten::gather' else sh[-1]
        rows = _numel(idx); row = _numel(src[1:]) if name != 'aten::gather' else 1
        out = rows * row if name != 'aten::gather' else _numel(idx)
        return 'gather', 4.0 * (2 * out + rows)
    if name in SCATTERS:                                    # read the source and index, read-modify-write the rows hit
        src = max(sizes)
        return 'scatter', 4.0 * (3 * src + min(sizes)) + (8.0 * sizes[0] if not name.endswith('_') else 0.0)
    if name in REDUCTIONS: return 'memory', 4.0 * (sum(sizes) + (sizes[0] if name.startswith('aten::native_') else 0))
    if name in ('aten::copy_', 'aten::fill_', 'aten::zero_', 'aten::zeros', 'aten::zeros_like', 'aten::ones_like', 'aten::clone'):
        return 'memory', 4.0 * (sum(sizes) if name == 'aten::copy_' else 2 * max(sizes) if name == 'aten::clone' else max(sizes))
    return 'memory', 4.0 * (sum(sizes) + max(sizes))       # element-wise: operands in, the broadcast result out

def _stream_gbs(reps:int=15)->dict:
    "Memory bandwidth of this process (GB/s), `torch.add(a, b, out=c)` on float32 arrays of 2^k elements (12 bytes an element)."
    import torch
    out = {}
    for k in range(10, 25, 2):
        n = 2 ** k; a, b, c = torch.randn(n), torch.randn(n), torch.empty(n)
        for _ in range(3): torch.add(a, b, out=c)
        best = float('inf')
        for _ in range(reps if k < 22 else 5):
            t0 = time.perf_counter(); torch.add(a, b, out=c); best = min(best, time.perf_counter() - t0)
        out[k] = 12 * n / best / 1e9
    return out

def _elementwise_rates(n:int=2 ** 18, reps:int=10)->dict:
    "Elements per second of this process for the element-wise operators that compute more than they move (transcendentals), on n floats alone."
    import torch
    import torch.nn.functional as F
    x, g, y = torch.randn(n), torch.randn(n), torch.rand(n) + 0.5
    ops = {'aten::softplus': lambda: F.softplus(x), 'aten::softplus_backward': lambda: torch.ops.aten.softplus_backward(g, x, 1.0, 20.0),
           'aten::silu': lambda: F.silu(x), 'aten::silu_backward': lambda: torch.ops.aten.silu_backward(g, x),
           'aten::exp': lambda: torch.exp(x), 'aten::log': lambda: torch.log(y), 'aten::cos': lambda: torch.cos(x),
           'aten::sin': lambda: torch.sin(x), 'aten::sigmoid': lambda: torch.sigmoid(x), 'aten::tanh': lambda: torch.tanh(x),
           'aten::sqrt': lambda: torch.sqrt(y), 'aten::div': lambda: x / y, 'aten::pow': lambda: x.pow(2),
           'aten::sigmoid_backward': lambda: torch.ops.aten.sigmoid_backward(g, y), 'aten::tanh_backward': lambda: torch.ops.aten.tanh_backward(g, y)}
    out = {}
    for k, f in ops.items():
        for _ in range(2): f()
        best = float('inf')
        for _ in range(reps):
            t0 = time.perf_counter(); f(); best = min(best, time.perf_counter() - t0)
        out[k] = n / best
    for k in list(out):
        if k + '_' not in out: out[k + '_'] = out[k]       # the in-place forms
    return out

def _gemm_rate(shape:tuple, cache:dict)->float:
    "Best FLOP/s of this process for an [m,k]×[k,n] product (contiguous operands), cached by shape."
    import torch
    if shape not in cache:
        m, k, n = shape
        a, b = torch.randn(m, k), torch.randn(k, n); c = torch.empty(m, n)
        for _ in range(2): torch.mm(a, b, out=c)
        best = float('inf')
        for _ in range(8):
            t0 = time.perf_counter(); torch.mm(a, b, out=c); best = min(best, time.perf_counter() - t0)
        cache[shape] = 2.0 * m * k * n / best
    return cache[shape]

def _roofline_child(name, root, a):
    """Fresh process: one backbone trains as `fit` does on pre-collated batches of one epoch (timed, median of 2 passes
    after a warm-up pass); then one profiled pass (`record_shapes`) whose outermost aten operators each get a least time:
    matrix products at this process's measured rate for that shape, everything else at its measured bandwidth for that
    size (or a transcendental's measured element rate)."""
    import math, contextlib, io, torch
    from torch.profiler import profile
    from molcryst.datasets import QM9
    from molcryst.models import get_model
    from molcryst.config import TrainConfig
    from molcryst.graphmodel import make_optimizer
    if name == 'torchmdnet': _quiet_import_torchmdnet()
    ds = QM9('homo', limit=a.n_qm9, cutoff=5.0, progress=False, root=root)
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()): model = get_model(name).train()
    loader, sampler, tuned = _fit_loader(ds, a.batch_size)
    opt = make_optimizer(TrainConfig(optimizer='adam', learning_rate=1e-3), model.parameters())
    batches = list(loader)
    n_graphs = sum(b.num_graphs for b in batches)
    times = []
    for rep in range(3):
        t0 = time.perf_counter()
        for b in batches: _loss_step(model, opt, b)
        times.append(time.perf_counter() - t0)
    measured = _med(times[1:])
    with profile(record_shapes=True) as prof:
        for b in batches: _loss_step(model, opt, b)
    compiled = compile_s = None
    if a.roof_compile:                                      # the same epoch through TrainConfig.compile's module
        from molcryst.graphmodel import compile_backbone
        t0 = time.perf_counter(); fwd = compile_backbone(model, batches[0])
        if fwd is not model:
            for b in batches: _loss_step(fwd, opt, b)       # recompilations for the shapes of the epoch
            compile_s = time.perf_counter() - t0
            ct = []
            for rep in range(2):
                t0 = time.perf_counter()
                for b in batches: _loss_step(fwd, opt, b)
                ct.append(time.perf_counter() - t0)
            compiled = _med(ct)
    bw, gemm, rates = _stream_gbs(), {}, _elementwise_rates()
    kinds = {}
    def under_optimizer(e):
        while e is not None:
            if e.name.startswith('Optimizer.step'): return True
            e = e.cpu_parent
        return False
    def aten_parent(e):
        p = e.cpu_parent
        while p is not None:
            if p.name.startswith('aten::'): return True
            p = p.cpu_parent
        return False
    for e in prof.events():                                 # the outermost aten operators, with what they call
        if not e.name.startswith('aten::') or aten_parent(e): continue
        kind, amount = _op_cost(e.name, e.input_shapes)
        if under_optimizer(e): kind, amount = 'optimiser', 0.0
        k = kinds.setdefault(kind, dict(measured_s=0.0, least_s=0.0, calls=0, amount=0.0))
        k['measured_s'] += e.cpu_time_total / 1e6; k['calls'] += 1; k['amount'] += amount
        if kind == 'mm':
            m = [s for s in e.input_shapes if isinstance(s, (list, tuple)) and len(s) >= 2]
            if e.name == 'aten::linear': shape = (_numel(m[0][:-1]), m[0][-1], m[1][0])
            else: m = m[-2:]; shape = (_numel(m[0][:-1]), m[0][-1], m[1][-1])
            k['least_s'] += amount / _gemm_rate(shape, gemm)
        elif kind in ('memory', 'gather', 'scatter'):
            sz = max(1, int(amount / 12)); kk = min(max(10, 2 * round(math.log2(sz) / 2)), 24)
            t = amount / (bw[kk] * 1e9)
            if e.name in rates:                             # a transcendental: its arithmetic, if that takes longer
                sh = [x for x in e.input_shapes if isinstance(x, (list, tuple)) and len(x)]
                t = max(t, max(_numel(x) for x in sh) / rates[e.name]) if sh else t
            k['least_s'] += t
    params = sum(p.numel() for p in model.parameters())
    opt_bytes = 28.0 * params                              # Adam: read p, g, m, v; write p, m, v (float32)
    k = kinds.setdefault('optimiser', dict(measured_s=0.0, least_s=0.0, calls=0, amount=0.0))
    k['amount'], k['least_s'] = opt_bytes * len(batches), opt_bytes * len(batches) / (bw[24] * 1e9)
    profiled = sum(v['measured_s'] for v in kinds.values())
    least = sum(v['least_s'] for v in kinds.values())
    mm_only = kinds.get('mm', {}).get('least_s', 0.0)
    import molcryst
    return dict(molcryst=molcryst.__file__, name=name, params=params, n=n_graphs, steps=len(batches), measured_s=measured,
                compiled_s=compiled, compile_s=compile_s,
                profiled_op_s=profiled, least_s=least, mm_only_s=mm_only, kinds=kinds, stream_gbs=bw, elementwise_per_s=rates,
                gemm_gflops={f'{m}x{k_}x{n}': r / 1e9 for (m, k_, n), r in gemm.items()}, threads=torch.get_num_threads())

def bench_roofline(a, root, child_args):
    res = []
    for n in [x for x in a.backbones.split(',') if x] if a.backbones != ','.join(SPEEDUP_BACKBONES) else ROOF_BACKBONES:
        r = _child(['--_roof-child', n, '--_root', str(root), '--n-qm9', str(a.n_qm9), '--batch-size', str(a.batch_size), *child_args])
        res.append(r)
        print(f'  {n:<12s} {r["n"] / r["measured_s"]:7.1f} graphs/s, ceiling {r["n"] / r["least_s"]:7.1f}, '
              f'{r["least_s"] / r["measured_s"]:.0%} of it', flush=True)
    return res

def roofline_rows(res)->list[dict]:
    rows = []
    for r in res:
        K = r['kinds']; t = r['measured_s']; prof = r['profiled_op_s']
        share = lambda ks: sum(K.get(k, {}).get('measured_s', 0.0) for k in ks) / prof
        least = lambda ks: sum(K.get(k, {}).get('least_s', 0.0) for k in ks)
        mm = K.get('mm', {})
        c = r.get('compiled_s')
        best = max(r['least_s'] / t, r['least_s'] / c if c else 0.0)
        rows.append(dict(backbone=r['name'], graphs_per_s=round(r['n'] / t, 1), ceiling=round(r['n'] / r['least_s'], 1),
                         of_ceiling=f"{r['least_s'] / t:.0%}",
                         compiled_graphs_per_s=round(r['n'] / c, 1) if c else None, compiled_of_ceiling=f"{r['least_s'] / c:.0%}" if c else None,
                         mm_only=round(r['n'] / max(r['mm_only_s'], 1e-12), 1),
                         mm_share=f"{share(['mm']):.0%}", mm_gflops=round(mm.get('amount', 0) / max(mm.get('measured_s', 1e-12), 1e-12) / 1e9, 1),
                         memory_share=f"{share(['memory', 'gather', 'scatter']):.0%}",
                         memory_of_least=f"{least(['memory', 'gather', 'scatter']) / max(sum(K.get(k, {}).get('measured_s', 0.0) for k in ('memory', 'gather', 'scatter')), 1e-12):.0%}",
                         unknown_share=f"{share(['unknown']):.0%}",
                         goal='✅' if r['name'] == 'schnet' and best >= GOAL_CEILING else ('❌' if r['name'] == 'schnet' else '—')))
    return rows

def roofline_table(res, a, ds_info)->tuple[str, list[dict]]:
    rows = roofline_rows(res)
    r0 = res[0]
    bw = ', '.join(f'{v:.0f}' for k, v in sorted(r0['stream_gbs'].items(), key=lambda kv: int(kv[0])))
    head = ('| backbone | graphs/s | ceiling graphs/s | share of the ceiling | compiled graphs/s | compiled: share of the ceiling | '
            'matmul-only limit graphs/s | matmul share of op time | '
            'matmul GFLOP/s | memory-bound share | memory ops at % of bandwidth | unrecorded ops | goal ≥ 70 % (SchNet) |\n'
            '|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    body = '\n'.join(f"| `{x['backbone']}` | {x['graphs_per_s']} | {x['ceiling']} | {x['of_ceiling']} | {x['compiled_graphs_per_s'] or '–'} | "
                     f"{x['compiled_of_ceiling'] or '–'} | {x['mm_only']} | {x['mm_share']} | "
                     f"{x['mm_gflops']} | {x['memory_share']} | {x['memory_of_least']} | {x['unknown_share']} | {x['goal']} |" for x in rows)
    text = (f'{ds_info}. Each backbone at its registry default size trains as `fit` does (its loader, allocator setting '
            f'and fused Adam), batch {a.batch_size}, on the batches of one epoch collated beforehand; graphs/s is the median of '
            f'two timed passes after a warm-up pass. **Ceiling**: one more pass under `torch.profiler(record_shapes=True)`; '
            f'every operator the model calls (the outermost aten operator, with what it calls in turn) gets the least time this '
            f'machine needs for it, measured in the same process: a matrix '
            f'product at the best rate of a product of its shape (timed alone, contiguous operands), every other operator at '
            f'the bandwidth `torch.add` reaches on arrays of its size (each operand read once, the result written once) or, for '
            f'transcendentals (softplus, SiLU, exp, cos, … and their backward), at the element rate the operator itself reaches '
            f'alone on 2^18 floats where that takes longer, and '
            f'Adam at 28 bytes per parameter and step. The sum over the epoch is the ceiling: what this sequence of operators '
            f'would take if each ran at the machine\'s measured limit, with nothing between them. Operators whose inputs the '
            f'profiler does not record (`cat`, list inputs) count as free, so the ceiling is if anything too high. "Compiled": '
            f'the same epoch through `TrainConfig.compile`\'s module (`compile_backbone`), two timed passes after compiling and '
            f'a pass of recompilations; its fused kernels can beat the ceiling of the eager operators. Bandwidth '
            f'of `torch.add` at 2^10 … 2^24 elements: {bw} GB/s. Threads: {r0["threads"]}.')
    return text + '\n\n' + head + '\n' + body, rows

# ----------------------------------------------------------------------------- part 5: MPNN edge network forms
MPNN_IMPLS = ('reference', 'cached', 'dense')

def bench_mpnn(a, root, child_args):
    """Both MPNNs in each edge-network form, trained as in part 1, fresh processes interleaved round by round; then a
    profile of the default form, and the forms compared in float64 on one batch."""
    res = []
    for r in range(a.mpnn_repeats):
        for name in ('mpnn', 'mpnn_transformer'):
            for impl in MPNN_IMPLS:
                x = _child(['--_train-child', name, '--_root', str(root), '--n-qm9', str(a.n_qm9), '--epochs', str(a.epochs),
                            '--batch-size', str(a.batch_size), '--_model-kwargs', json.dumps(dict(edge_impl=impl)), *child_args])
                x['round'] = r; res.append(x)
                print(f'  round {r + 1}: {name:<17s} {impl:<9s} {x["n"] / _med(x["epoch_s"]):7.1f} graphs/s, peak tensor '
                      f'{x["tensor_peak_mib"]:.0f} MiB, peak RSS +{x["rss_delta_mib"]:.0f} MiB', flush=True)
    profs = {}
    for name in ('mpnn', 'mpnn_transformer'):
        profs[name] = _child(['--_train-child', name, '--_root', str(root), '--n-qm9', str(a.n_qm9), '--epochs', '0',
                              '--batch-size', str(a.batch_size), '--_profile-steps', str(a.profile_steps), *child_args])
    return dict(runs=res, profiles=profs, float64=_mpnn_float64(root, a))

def _mpnn_float64(root, a):
    "Outputs and parameter gradients of one training step in float64 on a fixed batch: each form against the reference."
    import numpy as np, torch
    from torch_geometric.data import Batch
    from molcryst.datasets import QM9
    from molcryst.models import get_model
    ds = QM9('homo', limit=a.n_qm9, cutoff=5.0, progress=False, root=root)
    b = Batch.from_data_list([ds[int(i)] for i in np.random.default_rng(0).choice(len(ds), min(a.batch_size, len(ds)), replace=False)])
    b.pos = b.pos.double()
    out = {}
    for name in ('mpnn', 'mpnn_transformer'):
        ref = None
        for impl in MPNN_IMPLS:
            torch.manual_seed(0)
            m = get_model(name, edge_impl=impl).double().train()
            y = m(b); (y[:, 0] - b.y[:, 0].double()).pow(2).mean().backward()
            g = torch.cat([p.grad.reshape(-1) for p in m.parameters() if p.grad is not None])
            if ref is None: ref = (y.detach(), g); continue
            out[f'{name}/{impl}'] = dict(outputs=_rel(y.detach(), ref[0]), gradients=_rel(g, ref[1]))
    return out

def mpnn_rows(r):
    "Rows of the speed table: medians over rounds per model and form, with the speed-up over the reference form."
    rows = []
    for name in ('mpnn', 'mpnn_transformer'):
        runs = {impl: [x for x in r['runs'] if x['name'] == name and x['model_kwargs'].get('edge_impl') == impl] for impl in MPNN_IMPLS}
        rate = {impl: _med([x['n'] / _med(x['epoch_s']) for x in v]) for impl, v in runs.items()}
        for impl, v in runs.items():
            f64 = r['float64'].get(f'{name}/{impl}')
            rows.append(dict(model=name, form=impl, graphs_per_s=round(rate[impl], 1), speedup=round(rate[impl] / rate['reference'], 2),
                             per_round=[round(x['n'] / _med(x['epoch_s']), 1) for x in v],
                             peak_tensor_mib=round(max(x['tensor_peak_mib'] for x in v)), peak_rss_mib=round(max(x['rss_delta_mib'] for x in v)),
                             float64_rel_diff='—' if f64 is None else f'{f64["outputs"]:.0e} / {f64["gradients"]:.0e}'))
    return rows

def mpnn_table(r, a, ds_info):
    rows = mpnn_rows(r)
    lines = ['| model | edge network form | graphs/s (median of rounds) | per round | × reference | peak tensor MiB (1 step) | '
             'peak RSS Δ MiB | float64 vs reference: outputs / gradients (max rel.) |', '|---|---|---|---|---|---|---|---|']
    for x in rows:
        lines.append(f'| `{x["model"]}` | `{x["form"]}` | {x["graphs_per_s"]} | {", ".join(map(str, x["per_round"]))} | '
                     f'{x["speedup"]:.2f}× | {x["peak_tensor_mib"]} | {x["peak_rss_mib"]} | {x["float64_rel_diff"]} |')
    prof = []
    for name, p in r['profiles'].items():
        pr = p['profile']
        prof.append(f'\n`{name}` (edge_impl `{p["edge_impl"]}` chosen by `auto`), {pr["ms_per_step"]:.1f} ms of CPU per training step '
                    f'over {pr["steps"]} steps; inclusive time per part: ' + ', '.join(f'{k} {v:.1f} ms' for k, v in pr['parts'].items()) + '\n')
        prof += ['| operator (self CPU) | ms / step | calls / step |', '|---|---|---|']
        prof += [f'| `{k}` | {t:.1f} | {c} |' for k, t, c in pr['ops'][:8]]
    return (f'{ds_info}. `MPNN` and `MPNNTransformer` at their registry default size (64 features, a 128-wide edge network, '
            f'3 steps, Set2Set), the same seed and so the same weights in every form, trained as in part 1 (batch {a.batch_size}, '
            f'loader inside the timed epoch, Adam, MSE; one warm-up epoch, {a.epochs} timed); a fresh process per run, the forms '
            f'interleaved in {a.mpnn_repeats} rounds. `reference` is PyG\'s `NNConv` in every step (the model as first written), '
            '`cached` the edge network once per forward pass, `dense` the factorised form in size blocks (`nbs/08_mpnn.ipynb`); '
            'the default `auto` takes `dense` on these batches. The float64 column is one training step on the fixed batch.\n\n'
            + '\n'.join(lines) + '\n\nWhere the time goes in the default form:\n' + '\n'.join(prof)), rows

# ----------------------------------------------------------------------------- part 2: SchNet vs PyG SchNet
class BatchEdges:
    """Stands in for PyG SchNet's `interaction_graph(pos, batch) -> (edge_index, edge_weight)`: the current
    batch's precomputed molcryst edges (PyG's `radius_graph` needs torch-cluster), lengths from `pos`."""
    def __init__(self): self.batch, self.edges = None, 0
    def __call__(self, pos, batch):
        ei = self.batch.edge_index
        self.edges += ei.shape[1]
        return ei, (pos.index_select(0, ei[0]) - pos.index_select(0, ei[1])).norm(dim=-1)

FTZ = 'PyG `SchNet`, subnormals flushed'

def bench_schnet(a, ds):
    import torch
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn.models import SchNet as PygSchNet
    from molcryst.models import SchNet
    from molcryst.graphs import edge_vectors
    kw = dict(hidden_channels=128, num_filters=128, num_interactions=6, cutoff=5.0)
    torch.manual_seed(0)
    mc = SchNet(**kw, num_rbf=50, readout='sum')
    edges = BatchEdges()
    pg = PygSchNet(**kw, num_gaussians=50, interaction_graph=edges, readout='add')
    with torch.no_grad():      # the same weights in both (PyG's embedding has 100 rows; QM9 has Z <= 9)
        pg.embedding.weight.copy_(mc.embedding.weight[:pg.embedding.num_embeddings])
        pairs = [(pg.lin1, mc.head[0]), (pg.lin2, mc.head[2])]
        for I, C, A in zip(pg.interactions, mc.convs, mc.acts):
            pairs += [(I.mlp[0], C.filter[0]), (I.mlp[2], C.filter[2]), (I.conv.lin1, C.lin1), (I.conv.lin2, C.lin2), (I.lin, A[1])]
        for p, q in pairs:
            p.weight.copy_(q.weight)
            if p.bias is not None: p.bias.copy_(q.bias)
    batches = list(DataLoader(ds, batch_size=a.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)))
    n_graphs, n_edges = sum(b.num_graphs for b in batches), sum(b.edge_index.shape[1] for b in batches)
    def run_pg(b): edges.batch = b; return pg(b.z, b.pos, b.batch)
    # agreement (same weights, same edges) before any training
    b = batches[0]
    with torch.no_grad(): o_mc, o_pg = mc(b), run_pg(b)
    diff = ((o_mc - o_pg).abs().max() / o_mc.abs().max()).item()
    _, dist = edge_vectors(b)
    dist_ok = torch.allclose(dist, (b.pos[b.edge_index[0]] - b.pos[b.edge_index[1]]).norm(dim=-1))   # no shifts: molecules
    # PyG's GaussianSmearing gives subnormal floats where exp(-γ(d-μ)²) falls below 1.2e-38 (molcryst's radial basis
    # returns exact zeros there); a third variant runs PyG with subnormals flushed to zero process-wide
    # (torch.set_flush_denormal), to show how much of the gap that is
    import copy
    pg_ftz = copy.deepcopy(pg); pg_ftz.interaction_graph = edges
    def run_pg_ftz(b): edges.batch = b; return pg_ftz(b.z, b.pos, b.batch)
    with torch.no_grad():
        rbf = pg.distance_expansion(b.pos[b.edge_index[0]].sub(b.pos[b.edge_index[1]]).norm(dim=-1))
        subnormal = ((rbf != 0) & (rbf.abs() < torch.finfo(rbf.dtype).tiny)).double().mean().item()
    models = {'molcryst `SchNet`': mc, 'PyG `SchNet`': pg, FTZ: pg_ftz}
    fwd = {'molcryst `SchNet`': mc, 'PyG `SchNet`': run_pg, FTZ: run_pg_ftz}   # callables batch -> [G, 1]
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}
    def stepper(k):
        def f():
            torch.set_flush_denormal(k == FTZ)
            try: [_loss_step(fwd[k], opts[k], b) for b in batches]
            finally: torch.set_flush_denormal(False)
        return f
    steppers = {k: stepper(k) for k in models}
    for k in models:                               # warm-up
        torch.set_flush_denormal(k == FTZ)
        for b in batches[:3]: _loss_step(fwd[k], opts[k], b)
        torch.set_flush_denormal(False)
    rates, counted = {k: [] for k in models}, {}
    for r in range(a.repeats):
        for k, f in steppers.items():              # interleaved: both models in every round
            e0 = edges.edges
            t0 = time.perf_counter(); f(); dt = time.perf_counter() - t0
            rates[k].append(n_graphs / dt)
            if k == 'PyG `SchNet`': counted[k] = edges.edges - e0
        print(f'  round {r + 1}: ' + ', '.join(f'{k} {v[-1]:.1f} graphs/s' for k, v in rates.items()), flush=True)
    counted['molcryst `SchNet`'] = n_edges         # molcryst reads batch.edge_index itself
    return dict(rates=rates, n_graphs=n_graphs, n_edges=n_edges, counted=counted, diff=diff, dist_ok=dist_ok, subnormal=subnormal,
                n_batches=len(batches), params={k: sum(p.numel() for p in m.parameters()) for k, m in models.items()})

def schnet_table(r, a):
    med = {k: _med(v) for k, v in r['rates'].items()}
    m, p = med['molcryst `SchNet`'], med['PyG `SchNet`']
    rows = [f'| model | graphs/s (median of {a.repeats}) | runs | parameters |', '|---|---|---|---|']
    for k, v in r['rates'].items():
        rows.append(f'| {k} | {med[k]:.1f} | {", ".join(f"{x:.0f}" for x in v)} | {r["params"][k]:,} |')
    same_edges = len(set(r['counted'].values())) == 1
    return ('128 features, 128 filters, 6 interactions, 50 Gaussians, cosine cut-off 5 Å, sum readout, the same '
            f'weights copied into both. The same {r["n_graphs"]:,} QM9 molecules in {r["n_batches"]} pre-collated shuffled batches '
            f'of {a.batch_size} (one pass = one timed repeat; both models in every round, interleaved); one training step = '
            "forward + MSE + backward + Adam. PyG's `interaction_graph` is replaced by a callable that returns the batch's "
            'precomputed molcryst `edge_index` with lengths from `pos` (its `radius_graph` needs torch-cluster).\n\n'
            + '\n'.join(rows) + '\n\n'
            f'- molcryst / PyG: **{m / p:.2f}×** (goal ≥ {GOAL_SCHNET}×) {"✅" if m / p >= GOAL_SCHNET else "❌"}\n'
            f'- molcryst / PyG with subnormals flushed (`torch.set_flush_denormal(True)` around its passes): '
            f'**{m / med[FTZ]:.2f}×**; {r["subnormal"] * 100:.1f} % of the values of PyG\'s `GaussianSmearing` on the first batch are '
            'subnormal floats, which make CPU matrix products slow (molcryst\'s radial basis returns exact zeros below e⁻⁵⁰)\n'
            f'- edges per pass: {", ".join(f"{k} {v:,}" for k, v in r["counted"].items())} — '
            f'{"the same" if same_edges else "DIFFERENT"}; molcryst `edge_vectors` lengths equal plain |pos_j − pos_i|: {r["dist_ok"]}\n'
            f'- outputs before training agree: max |Δ| / max |out| = {r["diff"]:.1e} '
            f'{"✅" if r["diff"] <= AGREE_RTOL else "❌"} (≤ {AGREE_RTOL:g})')

# ----------------------------------------------------------------------------- part 3: TorchMD-NET wrapper vs torchmd-net
def bench_torchmdnet(a, root):
    import ase, torch
    from torch_geometric.data import Batch
    _quiet_import_torchmdnet()
    from torchmdnet.models.model import create_model
    from molcryst.graphs import build_graph
    from molcryst.md17 import MD17
    from molcryst.models import EnergyForces, TorchMDNet
    torch.manual_seed(0)
    wrap = TorchMDNet()
    args = dict(wrap.args, derivative=True)
    def make_direct():
        d = create_model(dict(args))
        miss = d.representation_model.load_state_dict(wrap.representation.state_dict(), strict=False)
        assert not miss.unexpected_keys and all(k.startswith('distance.') for k in miss.missing_keys), miss
        d.output_model.load_state_dict(wrap.outputs[0].state_dict())
        return d
    direct = make_direct()                       # torchmd-net as it is
    direct_ftz = make_direct()                   # ... with the wrapper's radial basis (exact zeros, not subnormals)
    rbf_cls = type(wrap.representation.distance_expansion)
    direct_ftz.representation_model.distance_expansion.__class__ = rbf_cls
    assert type(direct.representation_model.distance_expansion) is rbf_cls.__mro__[1]
    ef = EnergyForces(wrap)
    ds = MD17('ethanol', limit=64, cutoff=5.0, progress=False, root=root)
    frames = [ds[i] for i in range(len(ds))]
    atoms = [ase.Atoms(numbers=g.z.numpy(), positions=g.pos.double().numpy()) for g in frames]
    zero = torch.zeros_like(frames[0].z)

    # --- agreement: one frame and a batch of 32, eval mode
    ef.eval(); direct.eval()
    g = frames[0].clone()
    e1, f1 = ef(g.clone()); e2, f2 = direct(g.z, g.pos.clone(), zero)
    bt = Batch.from_data_list(frames[:32])
    e3, f3 = ef(bt.clone()); e4, f4 = direct(bt.z, bt.pos.clone(), bt.batch)
    rel = lambda x, y: ((x.detach().reshape(-1) - y.detach().reshape(-1)).abs().max() / y.detach().abs().max()).item()
    agree = dict(e1=rel(e1, e2), f1=rel(f1, f2), e32=rel(e3, e4), f32=rel(f3, f4))
    with torch.no_grad():                        # share of subnormal floats in torchmd-net's own radial basis, one frame
        _, w_d, _ = direct.representation_model.distance(g.pos, zero)
        raw = direct.representation_model.distance_expansion(w_d)
        subnormal = ((raw != 0) & (raw.abs() < torch.finfo(raw.dtype).tiny)).double().mean().item()
    ei_d = direct.representation_model.distance(g.pos, zero)[0]                 # torchmd-net's own neighbour list
    ei_w = wrap.representation.distance
    ei_w.graph = g; ei_w_out = ei_w(g.pos, zero)[0]; ei_w.graph = None
    edges = dict(direct=int(ei_d.shape[1]), wrapper=int(ei_w_out.shape[1]), graph=int(g.edge_index.shape[1]), atoms=g.num_nodes)

    # --- single-molecule energy + forces (MD-style, eval)
    graphs = [f.clone() for f in frames]
    k = [0]
    def nxt(): k[0] = (k[0] + 1) % len(frames); return k[0]
    def md_direct(): f = frames[nxt()]; return direct(f.z, f.pos.clone(), zero)
    def md_direct_ftz(): f = frames[nxt()]; return direct_ftz(f.z, f.pos.clone(), zero)
    single = {
        'torchmd-net `model(z, pos, batch)` (own neighbour list)': md_direct,
        'torchmd-net, radial basis flushed as in the wrapper': md_direct_ftz,
        'molcryst `EnergyForces(TorchMDNet())`, graph prebuilt': lambda: ef(graphs[nxt()]),
        'molcryst, `build_graph` + `EnergyForces` every step': lambda: ef(build_graph(atoms[nxt()], cutoff=5.0)),
    }
    # --- batched training-style: 32 frames, energy + forces, loss on both, backward
    b32 = Batch.from_data_list(frames[:32]); pos0 = b32.pos.clone()
    def tr_direct(m):
        def f():
            m.zero_grad(set_to_none=True)
            y, fr = m(b32.z, pos0.clone(), b32.batch)
            (y.pow(2).mean() + fr.pow(2).mean()).backward()
        return f
    def tr_wrap():
        wrap.zero_grad(set_to_none=True)
        b32.pos = pos0.clone()
        e, f = ef(b32)
        (e.pow(2).mean() + f.pow(2).mean()).backward()
    batched = {'torchmd-net `model(z, pos, batch)`': tr_direct(direct),
               'torchmd-net, radial basis flushed as in the wrapper': tr_direct(direct_ftz),
               'molcryst `EnergyForces(TorchMDNet())`': tr_wrap}

    def timeit(fns, n, rounds, train):
        ef.train(train); direct.train(train); direct_ftz.train(train)
        for f in fns.values():
            for _ in range(3): f()                 # warm-up (first calls compile torchmd-net's Warp kernels)
        out = {name: [] for name in fns}
        for _ in range(rounds):                    # interleaved rounds
            for name, f in fns.items():
                for _ in range(n):
                    t0 = time.perf_counter(); f(); out[name].append(time.perf_counter() - t0)
        return out
    t_single = timeit(single, a.md_steps, a.repeats, False)
    print('  single: ' + ', '.join(f'{_med(v) * 1e3:.2f} ms' for v in t_single.values()), flush=True)
    t_batched = timeit(batched, a.train_steps, a.repeats, True)
    print('  batched: ' + ', '.join(f'{_med(v) * 1e3:.1f} ms' for v in t_batched.values()), flush=True)
    return dict(agree=agree, edges=edges, single=t_single, batched=t_batched, args=args, subnormal=subnormal,
                atoms32=int(b32.num_nodes), edges32=int(b32.edge_index.shape[1]))

def torchmdnet_table(r, a):
    ag, ed = r['agree'], r['edges']
    ok = max(ag.values()) <= AGREE_RTOL
    FTZ = 'torchmd-net, radial basis flushed as in the wrapper'
    def tab(times, ref_key):
        med = {k: _med(v) * 1e3 for k, v in times.items()}
        ref, same = med[ref_key], med[FTZ]
        rows = ['| variant | ms/step (median) | × torchmd-net as it is | wrapper overhead vs torchmd-net with the same radial basis | steps timed |',
                '|---|---|---|---|---|']
        for k, v in med.items():
            ov = (f'{(v / same - 1) * 100:+.1f} % {"✅" if v / same - 1 <= GOAL_TMD / 100 else "❌"}'
                  if k.startswith('molcryst') else '—')
            rows.append(f'| {k} | {v:.2f} | {v / ref:.2f}× | {ov} | {len(times[k])} |')
        return '\n'.join(rows)
    s_ref = 'torchmd-net `model(z, pos, batch)` (own neighbour list)'
    A = r['args']
    return (f'Equivariant transformer, {A["embedding_dimension"]} features, {A["num_layers"]} layers, {A["num_rbf"]} RBFs, '
            f'{A["num_heads"]} heads, cut-off {A["cutoff_upper"]:g} Å; torchmd-net built with `create_model(wrapper.args, '
            'derivative=True)` and given the wrapper\'s weights (`representation` → `representation_model`, `outputs[0]` → '
            f'`output_model`). Ethanol: the first 64 frames of the shipped `MD17("ethanol")` trajectory, cycled. '
            f'Goal: wrapper overhead ≤ {GOAL_TMD:g} %.\n\n'
            f'The wrapper swaps torchmd-net\'s `ExpNormalSmearing` for a subclass that returns exact zeros where torchmd-net\'s '
            f'returns values below e⁻⁵⁰ ({r["subnormal"] * 100:.1f} % of its values on one frame are subnormal floats, which '
            'make CPU matrix products slow). So the overhead of the wrapper itself is measured against torchmd-net called '
            'directly with the same radial-basis class (row 2); the first row is torchmd-net as it is.\n\n'
            f'Agreement (eval mode, max |Δ| / max |torchmd-net|): energy {ag["e1"]:.1e}, forces {ag["f1"]:.1e} on one frame; '
            f'energy {ag["e32"]:.1e}, forces {ag["f32"]:.1e} on a batch of 32 — {"✅" if ok else "❌"} (≤ {AGREE_RTOL:g}). '
            f'Edges incl. self-loops on one frame: torchmd-net\'s `OptimizedDistance` {ed["direct"]}, wrapper {ed["wrapper"]} '
            f'(= {ed["graph"]} molcryst edges + {ed["atoms"]} loops) — {"the same" if ed["direct"] == ed["wrapper"] else "DIFFERENT"}.\n\n'
            f'**Single molecule, energy + forces** (eval: no graph kept for a second derivative), {a.md_steps} steps × '
            f'{a.repeats} interleaved rounds:\n\n' + tab(r['single'], s_ref) + '\n\n'
            f'**Batched training step**: 32 ethanol frames ({r["atoms32"]} atoms, {r["edges32"]:,} edges), train mode, energy + '
            f'forces (forces with `create_graph`), loss = mean E² + mean F², backward (no optimiser step), '
            f'{a.train_steps} steps × {a.repeats} rounds:\n\n' + tab(r['batched'], 'torchmd-net `model(z, pos, batch)`'))

# ----------------------------------------------------------------------------- part 4: CGCNN list vs padded on CoRE MOF
CG_FORMS = {   # form -> (registry name, extra kwargs, graph: capped at 12 or full, label)
    'list': ('cgcnn', {}, 'capped', '`CGCNN` (list form), 12 nearest'),
    'list_me': ('cgcnn', {'memory_efficient': True}, 'capped', '`CGCNN(memory_efficient=True)` (list form, fused edge convolution), 12 nearest'),
    'dense': ('cgcnn_dense', {}, 'capped', '`CGCNNDense` (padded N×12), `mask_padding=True`'),
    'dense_nomask': ('cgcnn_dense', {'mask_padding': False}, 'capped', '`CGCNNDense`, `mask_padding=False` (original CGCNN)'),
    'list_full': ('cgcnn', {}, 'full', '`CGCNN` (list form), ALL neighbours within 8 Å (no cap)'),
    'list_full_me': ('cgcnn', {'memory_efficient': True}, 'full', '`CGCNN(memory_efficient=True)`, ALL neighbours within 8 Å (no cap)'),
}

def _cgcnn_datasets(a, capped=True):
    from molcryst.datasets import CoREMOF
    ds12 = CoREMOF('AV_VF', max_atoms=a.cg_max_atoms, limit=a.n_mofs, cutoff=8.0, max_neighbors=12, progress=False)
    if capped: return ds12
    return CoREMOF('AV_VF', ids=ds12.ids, cutoff=8.0, max_neighbors=None, progress=False)

def _cgcnn_child(form, weights, a):
    """Fresh process: one CGCNN form on the MOF batch. RSS high-water mark over a warm-up step and the timed steps;
    then one more step under the profiler (peak tensor bytes), outside the RSS window: the profiler's own event
    buffers grow with the number of operations and are not the model's memory."""
    import numpy as np, torch
    from torch_geometric.data import Batch
    from featurize import RssPeak, _status_kib
    from molcryst.models import get_model
    name, kw, graph, _ = CG_FORMS[form]
    ds = _cgcnn_datasets(a, capped=graph == 'capped')
    b = Batch.from_data_list([ds[i] for i in range(len(ds))])
    model = get_model(name, **kw).train()
    model.load_state_dict(torch.load(weights))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rss_setup = _status_kib('VmRSS') / 1024
    steps = a.full_steps if graph == 'full' else a.cgcnn_steps
    with RssPeak() as mem:
        out = _loss_step(model, opt, b)                                   # first (warm-up) step, untimed
        grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy().copy()   # gradients of the first step
        times = []
        for _ in range(steps):
            t0 = time.perf_counter(); _loss_step(model, opt, b); times.append(time.perf_counter() - t0)
    tpeak, _ = tensor_peak_mib(lambda: _loss_step(model, opt, b))       # profiled step (untimed, outside the RSS window)
    np.save(Path(weights).parent / f'grad-{form}-{os.getpid()}.npy', grad)
    import molcryst
    return dict(molcryst=molcryst.__file__, form=form, times=times, rss_delta_mib=mem.delta, rss_setup_mib=rss_setup, tensor_peak_mib=tpeak,
                out=out[:, 0].tolist(), grad_file=str(Path(weights).parent / f'grad-{form}-{os.getpid()}.npy'),
                atoms=b.num_nodes, edges=int(b.edge_index.shape[1]), ids=list(ds.ids),
                min_degree=int(torch.bincount(b.edge_index[1], minlength=b.num_nodes).min()),
                natoms=ds.num_atoms.tolist())

def bench_cgcnn(a, child_args):
    import numpy as np, torch
    from molcryst.models import get_model
    _cgcnn_datasets(a)
    if not a.skip_full: _cgcnn_datasets(a, capped=False)           # build both caches before timing
    torch.manual_seed(0)
    weights = Path(tempfile.mkdtemp(prefix='molcryst-models-bench-')) / 'cgcnn.pt'
    torch.save(get_model('cgcnn').state_dict(), weights)               # the same weights for every form
    extra = ['--n-mofs', str(a.n_mofs), '--cg-max-atoms', str(a.cg_max_atoms), '--cgcnn-steps', str(a.cgcnn_steps),
             '--full-steps', str(a.full_steps), *child_args]
    forms = ['list', 'list_me', 'dense', 'dense_nomask']
    res = {f: [] for f in forms}
    def run(f, label):
        x = _child(['--_cgcnn-child', f, '--_weights', str(weights), *extra])
        x['grad'] = np.load(x.pop('grad_file'))
        res.setdefault(f, []).append(x)
        print(f'  {label}: {f:<13s} {", ".join(f"{t:.2f}" for t in x["times"])} s/step, '
              f'peak RSS +{x["rss_delta_mib"]:.0f} MiB, tensors {x["tensor_peak_mib"]:.0f} MiB', flush=True)
    for r in range(a.cgcnn_repeats):
        for f in forms: run(f, f'round {r + 1}')                       # interleaved rounds, a fresh process each
    if not a.skip_full:
        for r in range(a.full_repeats):
            for f in ('list_full', 'list_full_me'): run(f, f'full lists {r + 1}')
    res['_ref64'] = _cgcnn_float64(a, weights)
    for p in weights.parent.iterdir(): p.unlink()
    weights.parent.rmdir()
    return res

def _cgcnn_float64(a, weights):
    "The first training step's outputs and parameter gradients in float64 (plain list form, same weights and batch): the reference for the float32 forms."
    import numpy as np, torch
    from torch_geometric.data import Batch
    from molcryst.models import get_model
    ds = _cgcnn_datasets(a)
    b = Batch.from_data_list([ds[i] for i in range(len(ds))])
    b.pos, b.cell = b.pos.double(), b.cell.double()
    model = get_model('cgcnn').train()
    model.load_state_dict(torch.load(weights))
    model.double()
    out = model(b)
    (out[:, 0] - b.y[:, 0].double()).pow(2).mean().backward()
    return dict(out=out[:, 0].tolist(), grad=torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy())

def cgcnn_table(res, a):
    import numpy as np
    ref = res.pop('_ref64', None)
    med_t = {f: _med([t for x in v for t in x['times']]) for f, v in res.items()}
    rss = {f: max(x['rss_delta_mib'] for x in v) for f, v in res.items()}
    tp = {f: max(x['tensor_peak_mib'] for x in v) for f, v in res.items()}
    first = {f: v[0] for f, v in res.items()}
    L, M, D = 'list', 'list_me', 'dense'
    rows = ['| form | edges | s/step (median) | × padded time | peak RSS Δ MiB (max of runs) | × padded RSS | '
            'peak tensor MiB (1 step) | × padded tensors | steps timed |', '|---|---|---|---|---|---|---|---|---|']
    for f, v in res.items():
        rows.append(f'| {CG_FORMS[f][3]} | {first[f]["edges"]:,} | {med_t[f]:.2f} | {med_t[f] / med_t[D]:.2f}× | {rss[f]:.0f} | '
                    f'{rss[f] / rss[D]:.2f}× | {tp[f]:.0f} | {tp[f] / tp[D]:.2f}× | '
                    f'{sum(len(x["times"]) for x in v)} in {len(v)} process{"es" if len(v) > 1 else ""} |')
    na = first[L]['natoms']
    o = {f: np.array(x['out']) for f, x in first.items()}
    g = {f: x['grad'] for f, x in first.items()}
    rel = _rel
    def verdict(f):
        ok_m, ok_t = rss[f] <= GOAL_CG_MEM * rss[D], med_t[f] <= GOAL_CG_TIME * med_t[D]
        return (f'- {CG_FORMS[f][3]} / padded: memory (peak RSS Δ) **{rss[f] / rss[D]:.2f}** (goal ≤ {GOAL_CG_MEM:.2f}) '
                f'{"✅" if ok_m else "❌"}, by peak tensor bytes {tp[f] / tp[D]:.2f}; time **{med_t[f] / med_t[D]:.2f}** '
                f'(goal ≤ {GOAL_CG_TIME:.2f}) {"✅" if ok_t else "❌"}')
    lines = [f'{len(na)} CoRE MOF 2019-ASR structures: `CoREMOF("AV_VF", max_atoms={a.cg_max_atoms}, limit={a.n_mofs}, '
             f'cutoff=8.0, max_neighbors=12)` (the first {a.n_mofs} with ≤ {a.cg_max_atoms} atoms in table order; atoms per '
             f'cell: median {int(np.median(na))}, min {min(na)}, max {max(na)}, total {sum(na):,}), one batch. Default sizes '
             '(64 features, 3 convolutions, 41 Gaussians), the same weights in every form. One step = forward + MSE + '
             'backward + Adam. Every run is a fresh process: set-up (data, batch, model, optimiser), a warm-up step, the '
             'timed steps, then one more step under `torch.profiler(profile_memory=True)` (peak live tensor bytes). Peak RSS Δ '
             'is the `VmHWM` high-water mark above the RSS after set-up, over the warm-up and timed steps (not the profiled '
             'one: the profiler\'s own event buffers grow with the number of operations). Runs of the four capped forms are '
             'interleaved round by round. `memory_efficient=True` runs the edge part of each convolution as one autograd '
             'function that keeps only per-atom tensors and recomputes per-edge ones in the backward pass (`nbs/05_cgcnn.ipynb`). '
             "With `max_neighbors=12` the list form has exactly the padded form's neighbours"
             + (' (every atom here has at least 12 neighbours within 8 Å, so the padded form carries no padding at all and '
                '`mask_padding` changes nothing).' if first[L]['min_degree'] >= 12
                else f' (the fewest neighbours of an atom: {first[L]["min_degree"]}; padding slots exist).'),
             '', '\n'.join(rows), '', verdict(L)]
    if M in res: lines.append(verdict(M))
    lines.append(f'- first forward, list vs padded (`mask_padding=True`): outputs max |Δ| / max |out| = {rel(o[D], o[L]):.1e}, '
                 f'gradients {rel(g[D], g[L]):.1e} {"✅" if max(rel(o[D], o[L]), rel(g[D], g[L])) <= AGREE_RTOL else "❌"}; '
                 f'`mask_padding=False` (batch-norm statistics and sums include any padding slots): outputs {rel(o["dense_nomask"], o[L]):.1e}')
    if M in res:
        lines.append(f'- `memory_efficient=True` vs plain list form, first step: outputs {rel(o[M], o[L]):.1e}, parameter gradients '
                     f'{rel(g[M], g[L]):.1e}')
    if ref is not None:
        r_o, r_g = np.array(ref['out']), ref['grad']
        cap = [f for f in (L, M, D) if f in res]
        err = {f: (rel(o[f], r_o), rel(g[f], r_g)) for f in cap}
        ok = M not in err or all(err[M][k] <= max(AGREE_RTOL, 2 * err[L][k]) for k in (0, 1))
        lines.append('- first step against the same step in float64 (plain list form), max |Δ| / max |float64|: '
                     + '; '.join(f'{CG_FORMS[f][3].split(" (")[0]}{" (padded)" if f == D else ""} outputs {err[f][0]:.1e}, '
                                 f'gradients {err[f][1]:.1e}' for f in cap)
                     + f' — `memory_efficient=True` within float32 rounding of the plain form {"✅" if ok else "❌"} '
                     f'(its error ≤ max({AGREE_RTOL:g}, 2× the plain form\'s))')
    if 'list_full' in res:
        e = first['list_full']['edges']
        lines.append(f'- full neighbour lists (no cap): {e:,} edges, {e / sum(na):.0f} per atom '
                     f'({e / first[L]["edges"]:.1f}× the capped graph): {med_t["list_full"] / med_t[L]:.1f}× the time and '
                     f'{rss["list_full"] / rss[L]:.1f}× the peak RSS of the capped list form')
    if 'list_full_me' in res:
        F_, FM = 'list_full', 'list_full_me'
        lines.append(f'- full neighbour lists with `memory_efficient=True`: {rss[FM]:.0f} MiB peak RSS Δ ({rss[FM] / rss[F_]:.2f}× the '
                     f'plain list form on the same graph), {tp[FM]:.0f} MiB peak tensors ({tp[FM] / tp[F_]:.2f}×), '
                     f'{med_t[FM] / med_t[F_]:.2f}× its time; outputs {rel(o[FM], o[F_]):.1e}, gradients {rel(g[FM], g[F_]):.1e}')
    return '\n'.join(lines)

# ----------------------------------------------------------------------------- part 6: SchNet vs schnetpack 2.2
GOAL_SPK = 2.0           # molcryst SchNet training >= 2x schnetpack 2.2's graphs/s, loaders on both sides (issue 22)
SPK_MODES = ('loader', 'precollated', 'inference')
SPK_SIDES = (('molcryst', True), ('schnetpack', False), ('schnetpack', True))   # True: with molcryst's allocator setting (fit applies it)
SPK_ARCH = dict(hidden_channels=128, num_filters=128, num_interactions=6, num_rbf=50, cutoff=5.0)

def _spk_version():
    "schnetpack's version, or None where it cannot be imported (it is not a molcryst requirement)."
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore'); import schnetpack  # noqa: F401
        from importlib.metadata import version
        return version('schnetpack')
    except Exception: return None

def _spk_model():
    "schnetpack 2.2's SchNet as its docs build it: 128 features and filters, 6 interactions, 50 Gaussians, 5 Å cosine cut-off; a shifted-softplus Atomwise head (128 → 64 → 1), summed."
    import schnetpack as spk
    rep = spk.representation.SchNet(n_atom_basis=128, n_interactions=6, radial_basis=spk.nn.GaussianRBF(n_rbf=50, cutoff=5.0),
                                    cutoff_fn=spk.nn.CosineCutoff(5.0), n_filters=128)
    head = spk.atomistic.Atomwise(n_in=128, n_out=1, activation=spk.nn.shifted_softplus, aggregation_mode='sum', output_key='y')
    return spk.model.NeuralNetworkPotential(representation=rep, input_modules=[spk.atomistic.PairwiseDistances()],
                                            output_modules=[head], postprocessors=[])

def _spk_inputs(ds)->list[dict]:
    """schnetpack's per-structure input dicts for the molcryst dataset `ds`: the same molecules, positions and 5 Å edges
    (`idx_i` the centre = molcryst's target, `idx_j` the neighbour), neighbour lists cached in memory (what
    `CachedNeighborList` gives schnetpack's own datasets), so its loader only collates."""
    import torch, schnetpack.properties as P
    s, out = ds.store, []
    ap, ep = s['atom_ptr'], s['edge_ptr']
    for k in range(len(ds)):
        a0, a1, e0, e1 = int(ap[k]), int(ap[k + 1]), int(ep[k]), int(ep[k + 1])
        ei = s['edge_index'][:, e0:e1].long()
        out.append({P.idx: torch.tensor([k]), P.Z: s['z'][a0:a1].long(), P.R: s['pos'][a0:a1].clone(), P.cell: s['cell'][k:k + 1].clone(),
                    P.pbc: s['pbc'][k:k + 1].clone(), P.n_atoms: torch.tensor([a1 - a0]), P.idx_i: ei[1].clone(), P.idx_j: ei[0].clone(),
                    P.offsets: torch.zeros(e1 - e0, 3), 'target': s['y'][k:k + 1, ds._tidx].float()})
    return out

def _copy_to_spk(mc, sp):
    "Copy molcryst SchNet `mc`'s weights into schnetpack's `sp` (the same architecture; schnetpack's embedding has 100 rows)."
    import torch
    rep, head = sp.representation, sp.output_modules[0].outnet
    with torch.no_grad():
        rep.embedding.weight.copy_(mc.embedding.weight[:rep.embedding.num_embeddings])
        pairs = [(head[0], mc.head[0]), (head[1], mc.head[2])]
        for I, C, A in zip(rep.interactions, mc.convs, mc.acts):
            pairs += [(I.in2f, C.lin1), (I.filter_network[0], C.filter[0]), (I.filter_network[1], C.filter[2]),
                      (I.f2out[0], C.lin2), (I.f2out[1], A[1])]
        for p, q in pairs:
            p.weight.copy_(q.weight)
            if p.bias is not None: p.bias.copy_(q.bias)
    return pairs

def _gemm_gflops(reps:int=20)->dict:
    "FP32 matrix-product rates of this process: a 1024³ GEMM (the machine's practical peak) and SchNet's typical [2400,128]×[128,128]."
    import torch
    out = {}
    for name, (m, k, n) in {'gemm_1024': (1024, 1024, 1024), 'gemm_2400x128x128': (2400, 128, 128)}.items():
        a, b = torch.randn(m, k), torch.randn(k, n); c = torch.empty(m, n)
        for _ in range(3): torch.mm(a, b, out=c)
        best = float('inf')
        for _ in range(reps):
            t0 = time.perf_counter(); torch.mm(a, b, out=c); best = min(best, time.perf_counter() - t0)
        out[name] = 2 * m * k * n / best / 1e9
    return out

def _flops(step, batches)->float:
    "Floating-point operations of `step` over `batches` (matrix products, as torch's FlopCounterMode counts them)."
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        for b in batches: step(b)
    return float(fc.get_total_flops())

def _spk_child(side, root, a, allocator):
    """Fresh process: one side's SchNet trained on QM9 with its own loader inside the timed epochs, then on the batches
    of one epoch collated beforehand, then inference on those; FLOPs of an epoch; GEMM rates measured here."""
    import torch
    from molcryst.datasets import QM9
    ds = QM9('homo', limit=a.n_qm9, cutoff=5.0, progress=False, root=root)
    if allocator:
        from molcryst.core import tune_allocator
        tune_allocator()
    torch.manual_seed(0)
    if side == 'molcryst':           # what fit() builds: the registry's SchNet, graph_loader with the seeded EpochSampler
        from molcryst.models import SchNet
        from molcryst.datamodule import EpochSampler, graph_loader
        model = SchNet(**SPK_ARCH, readout='sum')
        loader = graph_loader(ds, batch_size=a.batch_size, sampler=EpochSampler(len(ds), 0))
        fwd, target = (lambda b: model(b)[:, 0]), (lambda b: b.y[:, 0].float())
        set_epoch = loader.sampler.set_epoch
    else:
        import schnetpack as spk
        model = _spk_model()
        loader = spk.data.AtomsLoader(_spk_inputs(ds), batch_size=a.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
        fwd, target = (lambda b: model(dict(b))['y']), (lambda b: b['target'][:, 0])
        set_epoch = lambda ep: None
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    def step(b):
        opt.zero_grad(set_to_none=True)
        loss = (fwd(b) - target(b)).pow(2).mean(); loss.backward(); opt.step()
    times, cpu = {m: [] for m in SPK_MODES}, {m: [] for m in SPK_MODES}   # wall and this process's CPU seconds per epoch
    def timed(mode, f, keep=True):
        t0, c0 = time.perf_counter(), time.process_time(); f()
        if keep: times[mode].append(time.perf_counter() - t0); cpu[mode].append(time.process_time() - c0)
    ep = 0
    for e in range(a.epochs + 1):                              # epoch 0: warm-up, not timed
        set_epoch(ep); ep += 1
        timed('loader', lambda: [step(b) for b in loader], keep=e > 0)
    set_epoch(ep); batches = list(loader)
    for e in range(a.epochs): timed('precollated', lambda: [step(b) for b in batches])
    model.eval()
    with torch.no_grad():
        for e in range(a.epochs + 1): timed('inference', lambda: [fwd(b) for b in batches], keep=e > 0)
        flops_inf = _flops(fwd, batches)
    model.train()
    flops_train = _flops(step, batches)
    import molcryst
    n_edges = sum(int((b.edge_index if side == 'molcryst' else b['_idx_i']).shape[-1]) for b in batches)
    return dict(molcryst=molcryst.__file__, side=side, allocator=allocator, n=len(ds), n_edges=n_edges, epoch_s=times, cpu_s=cpu,
                flops_train=flops_train, flops_inference=flops_inf, gemm=_gemm_gflops(), threads=torch.get_num_threads(),
                params=sum(p.numel() for p in model.parameters()))

def _spk_agreement(ds, a)->dict:
    "molcryst's and schnetpack's SchNet with the same weights on one batch: outputs, and the gradients of the same loss."
    import torch
    from molcryst.models import SchNet
    from molcryst.datamodule import graph_loader
    import schnetpack as spk
    torch.manual_seed(0)
    mc, sp = SchNet(**SPK_ARCH, readout='sum'), _spk_model()
    pairs = _copy_to_spk(mc, sp)
    idx = list(range(min(a.batch_size, len(ds))))
    bm = next(iter(graph_loader(ds, idx, batch_size=len(idx))))
    bs = spk.data.loader._atoms_collate_fn(_spk_inputs(ds)[:len(idx)])
    ym, ys = mc(bm)[:, 0], sp(dict(bs))['y']
    (ym - bm.y[:, 0].float()).pow(2).mean().backward(); (ys - bs['target'][:, 0]).pow(2).mean().backward()
    gm = torch.cat([q.weight.grad.reshape(-1) for _, q in pairs]); gs = torch.cat([p.weight.grad.reshape(-1) for p, _ in pairs])
    return dict(outputs=_rel(ym.detach(), ys.detach()), gradients=_rel(gm, gs), edges=int(bm.edge_index.shape[1]), edges_spk=int(bs['_idx_i'].shape[0]))

def bench_spk(a, root, ds, child_args):
    "The three variants in fresh processes, interleaved round by round; then the same-weights agreement check."
    runs = []
    for r in range(a.spk_repeats):
        for side, alloc in SPK_SIDES:
            x = _child(['--_spk-child', side, '--_root', str(root), '--n-qm9', str(a.n_qm9), '--epochs', str(a.epochs),
                        '--batch-size', str(a.batch_size), *(['--_allocator'] if alloc else []), *child_args])
            x['round'] = r; runs.append(x)
            print(f'  round {r + 1}: {side:<10s}{" +allocator" if alloc else "":11s} ' + ', '.join(
                f'{m} {x["n"] / _med(x["epoch_s"][m]):.0f}' for m in SPK_MODES) + ' graphs/s', flush=True)
    return dict(runs=runs, agreement=_spk_agreement(ds, a))

def spk_rows(r)->list[dict]:
    "One row per mode: median graphs/s over rounds of each variant, the ratios, and achieved GFLOP/s."
    def runs(side, alloc): return [x for x in r['runs'] if x['side'] == side and x['allocator'] == alloc]
    rate = lambda v, m, k='epoch_s': _med([x['n'] / _med(x[k][m]) for x in v])
    M, S, SA = runs('molcryst', True), runs('schnetpack', False), runs('schnetpack', True)
    rows = []
    for m in SPK_MODES:
        fl = 'flops_inference' if m == 'inference' else 'flops_train'
        gf = lambda v: _med([x[fl] / _med(x['epoch_s'][m]) / 1e9 for x in v])
        rm, rs, rsa = rate(M, m), rate(S, m), rate(SA, m) if SA else float('nan')
        rows.append(dict(mode=m, molcryst=round(rm, 1), schnetpack=round(rs, 1), x_schnetpack=f'{rm / rs:.2f}×',
                         x_schnetpack_cpu=f'{rate(M, m, "cpu_s") / rate(S, m, "cpu_s"):.2f}×',
                         rounds=' / '.join(f'{x["n"] / _med(x["epoch_s"][m]):.0f}:{y["n"] / _med(y["epoch_s"][m]):.0f}' for x, y in zip(M, S)),
                         schnetpack_allocator=round(rsa, 1), x_schnetpack_allocator=f'{rm / rsa:.2f}×',
                         molcryst_gflops=round(gf(M), 1), schnetpack_gflops=round(gf(S), 1),
                         gflop_per_epoch=f'{_med([x[fl] for x in M]) / 1e9:.1f} / {_med([x[fl] for x in S]) / 1e9:.1f}'))
    return rows

def spk_table(r, a, ds_info, version):
    rows = spk_rows(r)
    M = [x for x in r['runs'] if x['side'] == 'molcryst']
    gemm = {k: _med([x['gemm'][k] for x in r['runs']]) for k in r['runs'][0]['gemm']}
    lines = ['| mode | molcryst graphs/s | schnetpack graphs/s | × schnetpack | per round (molcryst:schnetpack) | × schnetpack, CPU time | '
             'schnetpack + allocator graphs/s | × that | molcryst GFLOP/s | schnetpack GFLOP/s | GFLOP per epoch (molcryst / schnetpack) |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for x in rows:
        lines.append(f'| {x["mode"]} | {x["molcryst"]} | {x["schnetpack"]} | **{x["x_schnetpack"]}** | {x["rounds"]} | {x["x_schnetpack_cpu"]} | {x["schnetpack_allocator"]} | '
                     f'{x["x_schnetpack_allocator"]} | {x["molcryst_gflops"]} | {x["schnetpack_gflops"]} | {x["gflop_per_epoch"]} |')
    ag = r['agreement']
    tr = float(rows[0]['x_schnetpack'][:-1])
    note = (f'{ds_info}. molcryst `SchNet` and schnetpack {version} `SchNet` + `Atomwise` (shifted softplus, 128 → 64 → 1, '
            'sum) at the same architecture: 128 features, 128 filters, 6 interactions, 50 Gaussians, 5 Å cosine cut-off; '
            f'batch {a.batch_size}, Adam (lr 1e-3), MSE on `homo`, float32. A fresh process per side and round, the sides '
            f'interleaved in {a.spk_repeats} rounds, medians over rounds of the median of {a.epochs} timed epochs after one '
            'warm-up epoch. `loader`: each side\'s own loader inside the timed epoch (molcryst: `graph_loader` with the '
            'seeded `EpochSampler`, as `fit` trains; schnetpack: `AtomsLoader` over in-memory input dicts with the same '
            'cached 5 Å neighbour lists, so it only collates); `precollated`: the batches of one epoch collated '
            'beforehand; `inference`: `no_grad` forward passes over those. molcryst trains with its allocator setting '
            '(`molcryst.core.tune_allocator`, which `fit` applies); "schnetpack + allocator" runs schnetpack with the same '
            'setting, to show how much of the ratio that is. Rates are wall-clock; the CPU-time column uses each process\'s own '
            'CPU seconds (`time.process_time`), which another job sharing the core does not inflate. '
            'GFLOP/s: matrix-product FLOPs of an epoch (torch '
            '`FlopCounterMode`) over its time. '
            f'Threads: {M[0]["threads"]} (`OMP_NUM_THREADS=1 taskset -c 0`; the other core was busy with another job). '
            f'FP32 GEMM in the same processes: {gemm["gemm_1024"]:.1f} GFLOP/s (1024³), '
            f'{gemm["gemm_2400x128x128"]:.1f} GFLOP/s ([2400,128]×[128,128], SchNet\'s typical product); molcryst\'s '
            f'training reaches {rows[1]["molcryst_gflops"] / gemm["gemm_1024"] * 100:.0f} % of the 1024³ rate pre-collated. '
            f'Same weights on one batch of {a.batch_size}: outputs differ by {ag["outputs"]:.1e}, gradients by '
            f'{ag["gradients"]:.1e} (max |Δ| / max), edges {ag["edges"]:,} and {ag["edges_spk"]:,}. '
            f'Goal (issue 22): training ≥ {GOAL_SPK:g}× schnetpack with loaders: {tr:.2f}× {"✅" if tr >= GOAL_SPK else "❌"}.')
    return note + '\n\n' + '\n'.join(lines), rows, note

# ----------------------------------------------------------------------------- main
def environment(molcryst_path):
    import numpy as np, torch, torch_geometric, molcryst
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    from importlib.metadata import version, PackageNotFoundError
    def ver(name):
        try: return version(name)
        except PackageNotFoundError: return 'not installed'
    src = Path(molcryst.__file__).resolve().parent.parent
    try:
        git = lambda *a: subprocess.run(['git', '-C', str(HERE.parent), *a], capture_output=True, text=True).stdout.strip()
        rev = git('rev-parse', '--short', 'HEAD') + (' + uncommitted changes in molcryst/' if git('status', '--porcelain', 'molcryst') else '')
    except OSError: rev = '?'
    where = f'molcryst at {rev}' if src == HERE.parent else f'molcryst imported from {src} (not this checkout; the checkout is at {rev})'
    return (f'{time.strftime("%Y-%m-%d %H:%M")}, {where}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, '
            f'numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), torch_geometric '
            f'{torch_geometric.__version__}, torchmd-net {ver("torchmd-net")}, vesin {ver("vesin")}, qm9pack {ver("qm9pack")}, '
            f'core-mof {ver("core-mof")}; OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}')

def _section(sections:list, text:str):
    "Add a part's markdown to the output and print it as it comes."
    sections.append(text)
    print('\n' + text + '\n', flush=True)

def _save(name:str, rows:list, columns:list, **kw):
    "A part's table as the committed result file `benchmarks/reference/<name>.json`, with the command that made it."
    import report
    report.save(name, rows, columns, command=' '.join(['python', *sys.argv]), **kw)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--parts', default='1,2,3,4,5,6', help='which parts: 1 training table, 2 SchNet vs PyG, 3 TorchMD-NET, 4 CGCNN, '
                   '5 MPNN edge-network forms, 6 SchNet vs schnetpack 2.2, 7 every backbone against --baseline, 8 roofline of a training step (default 1-6)')
    p.add_argument('--n-qm9', type=int, default=1000, help='QM9 molecules for parts 1 and 2 (default 1000)')
    p.add_argument('--epochs', type=int, default=2, help='timed epochs per backbone after one warm-up epoch (default 2)')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--repeats', type=int, default=5, help='interleaved rounds in parts 2 and 3 (default 5)')
    p.add_argument('--md-steps', type=int, default=50, help='single-molecule steps per variant per round (part 3)')
    p.add_argument('--train-steps', type=int, default=5, help='batched training steps per variant per round (part 3)')
    p.add_argument('--n-mofs', type=int, default=32, help='CoRE MOF structures in the CGCNN batch (default 32)')
    p.add_argument('--cg-max-atoms', type=int, default=500, help='largest cell in the CGCNN batch (default 500)')
    p.add_argument('--cgcnn-repeats', type=int, default=3, help='fresh processes per capped CGCNN form (default 3)')
    p.add_argument('--cgcnn-steps', type=int, default=3, help='timed steps per CGCNN process (default 3)')
    p.add_argument('--full-repeats', type=int, default=1, help='processes for the uncapped list form (default 1; ~40 s/step)')
    p.add_argument('--full-steps', type=int, default=2, help='timed steps per uncapped process (default 2)')
    p.add_argument('--skip-full', action='store_true', help='leave out the uncapped CGCNN list form (the slowest, ~8 GiB)')
    p.add_argument('--mpnn-repeats', type=int, default=2, help='interleaved rounds of the MPNN forms (part 5, default 2)')
    p.add_argument('--profile-steps', type=int, default=8, help='training steps profiled per MPNN (part 5, default 8)')
    p.add_argument('--spk-repeats', type=int, default=5, help='interleaved rounds of SchNet vs schnetpack (part 6, default 5)')
    p.add_argument('--baseline', type=Path, default=None, help='part 7: a checkout of an earlier molcryst (e.g. `git worktree add /tmp/base REV`) to train against')
    p.add_argument('--baseline-repeats', type=int, default=3, help='interleaved rounds per backbone in part 7 (default 3)')
    p.add_argument('--compile-backbones', default='', help='part 7: these backbones also train with TrainConfig.compile (a third side; default none)')
    p.add_argument('--backbones', default=','.join(SPEEDUP_BACKBONES), help=f'backbones of part 7 (default {",".join(SPEEDUP_BACKBONES)})')
    p.add_argument('--save-reference', action='store_true', help='also write the tables of parts 1, 5 and 6 to benchmarks/reference/ (committed results)')
    p.add_argument('--molcryst', type=Path, default=None, help='import molcryst from this folder (a patched copy) instead of this checkout')
    p.add_argument('--out', type=Path, default=RESULTS, help=f'markdown output (default {RESULTS.relative_to(HERE.parent)})')
    p.add_argument('--_train-child', dest='train_child', help=argparse.SUPPRESS)
    p.add_argument('--_cgcnn-child', dest='cgcnn_child', help=argparse.SUPPRESS)
    p.add_argument('--_spk-child', dest='spk_child', help=argparse.SUPPRESS)
    p.add_argument('--_allocator', dest='allocator', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--_root', dest='root', help=argparse.SUPPRESS)
    p.add_argument('--_fit-loader', dest='fit_loader', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--_roof-child', dest='roof_child', help=argparse.SUPPRESS)
    p.add_argument('--_compiled', dest='compiled', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--no-roof-compile', dest='roof_compile', action='store_false', help='part 8: leave out the compiled passes')
    p.add_argument('--_model-kwargs', dest='model_kwargs', type=json.loads, default=None, help=argparse.SUPPRESS)
    p.add_argument('--_profile-steps', dest='child_profile', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--_weights', dest='weights', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    _setup_path(a.molcryst)
    child_args = ['--molcryst', str(a.molcryst)] if a.molcryst else []
    if a.train_child: return print(json.dumps(_train_child(a.train_child, a.root, a.n_qm9, a.epochs, a.batch_size, a.model_kwargs, a.child_profile, a.fit_loader, a.compiled)))
    if a.cgcnn_child: return print(json.dumps(_cgcnn_child(a.cgcnn_child, a.weights, a)))
    if a.roof_child: return print(json.dumps(_roofline_child(a.roof_child, a.root, a)))
    if a.spk_child: return print(json.dumps(_spk_child(a.spk_child, a.root, a, a.allocator)))

    parts = {int(x) for x in a.parts.split(',') if x.strip()}
    import shutil
    sections = [f'# Model benchmark\n\n{environment(a.molcryst)}\n\nCommand: `{" ".join([Path(sys.executable).name, *sys.argv])}`']
    print(sections[0], flush=True)
    root = Path(tempfile.mkdtemp(prefix='molcryst-models-bench-'))
    cpu = OtherCPU().__enter__()
    try:
        if parts & {1, 2, 5, 6, 7, 8}:
            from molcryst.datasets import QM9
            ds = QM9('homo', limit=a.n_qm9, cutoff=5.0, progress=False, root=root)   # built once; children hit the cache
            ds_info = (f'QM9 (`qm9pack`), the first {len(ds):,} molecules at 5 Å: {int(ds.num_atoms.sum()):,} atoms, '
                       f'{int(ds.num_edges.sum()):,} edges')
        if 1 in parts:
            print('Part 1: training throughput of every backbone ...', flush=True)
            res = bench_train(a, root, child_args)
            _section(sections, '## Training throughput, every backbone (QM9)\n\n' + train_table(res, a, ds_info))
        if 2 in parts:
            print('Part 2: SchNet vs PyG SchNet ...', flush=True)
            r = bench_schnet(a, ds)
            _section(sections, '## SchNet vs PyG `SchNet`, training step (QM9)\n\n' + schnet_table(r, a))
        if 3 in parts:
            print('Part 3: TorchMD-NET wrapper vs torchmd-net ...', flush=True)
            r = bench_torchmdnet(a, root)
            _section(sections, '## TorchMD-NET wrapper vs torchmd-net called directly\n\n' + torchmdnet_table(r, a))
        if 4 in parts:
            print('Part 4: CGCNN list vs padded on CoRE MOF ...', flush=True)
            res = bench_cgcnn(a, child_args)
            _section(sections, '## CGCNN list form vs padded form (CoRE MOF)\n\n' + cgcnn_table(res, a))
        if 5 in parts:
            print('Part 5: MPNN edge-network forms ...', flush=True)
            r = bench_mpnn(a, root, child_args)
            text, rows = mpnn_table(r, a, ds_info)
            _section(sections, '## MPNN and MPNN-transformer: the edge network\'s forms (QM9)\n\n' + text)
            if a.save_reference:
                _save('models-mpnn', rows, ['model', 'form', 'graphs_per_s', 'per_round', 'speedup', 'peak_tensor_mib',
                                            'peak_rss_mib', 'float64_rel_diff'],
                      notes=[text.split('\n\n')[0]],
                      extra=dict(profiles={k: v['profile'] | dict(edge_impl=v['edge_impl']) for k, v in r['profiles'].items()}))
        if 6 in parts:
            version = _spk_version()
            if version is None:
                print('Part 6: skipped: schnetpack is not importable (it is not a molcryst requirement; see benchmarks/README.md)', flush=True)
            else:
                print(f'Part 6: SchNet vs schnetpack {version} ...', flush=True)
                r = bench_spk(a, root, ds, child_args)
                text, rows, note = spk_table(r, a, ds_info, version)
                _section(sections, f'## SchNet vs schnetpack {version} (QM9)\n\n' + text)
                if a.save_reference:
                    _save('models-schnetpack', rows, ['mode', 'molcryst', 'schnetpack', 'x_schnetpack', 'rounds', 'x_schnetpack_cpu',
                                                      'schnetpack_allocator', 'x_schnetpack_allocator', 'molcryst_gflops', 'schnetpack_gflops', 'gflop_per_epoch'],
                          notes=[note, cpu.so_far()],
                          extra=dict(runs=[{k: v for k, v in x.items() if k != 'molcryst'} for x in r['runs']],
                                     agreement=r['agreement'], schnetpack=version))
        if 7 in parts:
            if a.baseline is None: raise SystemExit('part 7 needs --baseline PATH (a checkout of the earlier molcryst)')
            print(f'Part 7: every backbone against the molcryst at {a.baseline} ...', flush=True)
            r = bench_speedup(a, child_args)
            text, rows = speedup_table(r, a, ds_info)
            _section(sections, '## Training throughput against an earlier molcryst (QM9)\n\n' + text)
            if a.save_reference:
                _save('models-speedup', rows, ['backbone', 'baseline', 'molcryst', 'speedup', 'rounds', 'compiled', 'compiled_speedup',
                                               'compile_s', 'loader', 'goal'],
                      notes=[text.split('\n\n')[0], cpu.so_far()],
                      extra=dict(baseline=r['baseline_rev'], runs={n: {s: [{k: v for k, v in x.items() if k not in ('molcryst', 'profile')} for x in xs]
                                                                     for s, xs in sides.items()} for n, sides in r['runs'].items()}))
        if 8 in parts:
            print('Part 8: roofline of a training step ...', flush=True)
            res = bench_roofline(a, root, child_args)
            text, rows = roofline_table(res, a, ds_info)
            _section(sections, '## Training step against its ceiling (QM9)\n\n' + text)
            if a.save_reference:
                _save('models-roofline', rows, ['backbone', 'graphs_per_s', 'ceiling', 'of_ceiling', 'compiled_graphs_per_s',
                                                'compiled_of_ceiling', 'mm_only', 'mm_share', 'mm_gflops',
                                                'memory_share', 'memory_of_least', 'unknown_share', 'goal'],
                      notes=[text.split('\n\n')[0], cpu.so_far()],
                      extra=dict(runs=[{k: v for k, v in r.items() if k != 'molcryst'} for r in res]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cpu.__exit__(None, None, None)
    sections[0] += '\n\n' + cpu.line()
    print(cpu.line())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text('\n\n'.join(sections) + '\n')
    print(f'wrote {a.out}')

if __name__ == '__main__':
    main()
