"""Featurisation benchmark: QM9 graph cache (cold/warm) and CoRE MOF 2019-ASR neighbour lists at 8 Å.

Prints markdown tables and writes them to benchmarks/results/featurize.md. Speed is judged by
ratios measured side by side in one run (medians over repeats), not by absolute seconds.

    .venv/bin/python benchmarks/featurize.py                 # everything (several minutes)
    .venv/bin/python benchmarks/featurize.py --qm9-limit 5000 --n-mofs 20 --skip-ase   # quick

Not a test: nothing here asserts. Thread counts are left at their defaults (no OMP_NUM_THREADS).
"""
from __future__ import annotations
import argparse, ctypes, gc, json, os, platform, re, resource, shutil, statistics, subprocess, sys
import tempfile, time, tracemalloc, warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path: sys.path.insert(0, str(HERE.parent))   # run from a checkout without installing
RESULTS = HERE / 'results' / 'featurize.md'
QM9_SIZE = 130_831
QM9_GOAL_COLD, QM9_GOAL_WARM = 60.0, 3.0          # seconds, on 2 cores
GOAL_VS_CGCNN, GOAL_VS_VESIN = 10.0, 1.5          # molcryst >= 10x faster than CGCNN, <= 1.5x raw vesin
MiB = 2**20

# ----------------------------------------------------------------------------- memory helpers
def _status_kib(field):
    m = re.search(rf'^{field}:\s+(\d+) kB', Path('/proc/self/status').read_text(), re.M)
    return int(m.group(1)) if m else None

def _trim():
    "Collect garbage and hand freed heap back to the OS, so an RSS delta starts from a clean baseline."
    gc.collect()
    try: ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError): pass

def _reset_peak()->bool:
    "Reset the kernel's RSS high-water mark (VmHWM) of this process (Linux >= 4.0)."
    try: Path('/proc/self/clear_refs').write_text('5'); return True
    except OSError: return False

class RssPeak:
    "Peak RSS above the starting RSS over a block, from /proc/self/status VmHWM (MiB); None where unsupported."
    def __enter__(self):
        _trim()
        self.ok = _reset_peak() and _status_kib('VmHWM') is not None
        self.base = _status_kib('VmRSS') if self.ok else None
        return self
    def __exit__(self, *exc):
        self.delta = (_status_kib('VmHWM') - self.base) / 1024 if self.ok else None

def _nbytes(obj)->int:
    "Bytes of the arrays/tensors in a (nested) result: the featurised data each method keeps."
    import torch
    if isinstance(obj, np.ndarray): return obj.nbytes
    if isinstance(obj, torch.Tensor): return obj.element_size() * obj.numel()
    if isinstance(obj, (list, tuple)): return sum(_nbytes(o) for o in obj)
    if hasattr(obj, 'to_dict'): return _nbytes(list(obj.to_dict().values()))   # PyG Data
    return 0

# ----------------------------------------------------------------------------- part 1: QM9
def _qm9_child(mode, root, limit):
    "Runs in a fresh interpreter: one QM9() call, timed; prints a JSON line."
    t_imp = time.perf_counter()
    from molcryst.datasets import QM9
    t_imp = time.perf_counter() - t_imp
    rss0 = _status_kib('VmRSS') / 1024
    t0 = time.perf_counter()
    ds = QM9(cutoff=5.0, root=root, limit=limit, progress=False)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux
    print(json.dumps(dict(mode=mode, seconds=dt, import_s=t_imp, rss_after_import_mib=rss0, peak_rss_mib=peak,
                          n=len(ds), edges=int(ds.num_edges.sum()), atoms=int(ds.num_atoms.sum()),
                          cache=str(ds.path), cache_mib=ds.path.stat().st_size / MiB)))

def _run_child(mode, root, limit):
    cmd = [sys.executable, __file__, '--_qm9-child', mode, '--_root', str(root)]
    if limit: cmd += ['--qm9-limit', str(limit)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f'QM9 {mode} run failed:\n{p.stderr[-4000:]}')
    return json.loads(p.stdout.strip().splitlines()[-1])

def bench_qm9(limit, repeats):
    "Cold build into an empty cache folder once, then `repeats` warm loads; each in a fresh process."
    root = Path(tempfile.mkdtemp(prefix='molcryst-qm9-bench-'))
    try:
        print(f'QM9: cold build of {limit or QM9_SIZE} molecules at 5 Å into {root} ...', flush=True)
        cold = _run_child('cold', root, limit)
        print(f'  cold {cold["seconds"]:.1f} s', flush=True)
        warm = []
        for r in range(repeats):
            warm.append(_run_child('warm', root, limit))
            print(f'  warm {r + 1}/{repeats}: {warm[-1]["seconds"]:.2f} s', flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return cold, warm

def qm9_table(cold, warm, limit):
    ws = [w['seconds'] for w in warm]
    wmed = statistics.median(ws)
    full = not limit or limit >= QM9_SIZE
    def verdict(v, goal): return ('✅' if v <= goal else '❌') if full else '(subset; goal is for all of QM9)'
    rows = [
        '| QM9 (qm9pack, 5 Å, full lists) | value | goal | |',
        '|---|---|---|---|',
        f'| molecules / atoms / edges | {cold["n"]:,} / {cold["atoms"]:,} / {cold["edges"]:,} | | |',
        f'| cold build (CSV + neighbour lists + write cache), 1 run | {cold["seconds"]:.1f} s | ≤ {QM9_GOAL_COLD:.0f} s | {verdict(cold["seconds"], QM9_GOAL_COLD)} |',
        f'| warm load (cache hit), median of {len(ws)} | {wmed:.2f} s (runs: {", ".join(f"{w:.2f}" for w in ws)}) | ≤ {QM9_GOAL_WARM:.0f} s | {verdict(wmed, QM9_GOAL_WARM)} |',
        f'| peak RSS, cold process | {cold["peak_rss_mib"]:.0f} MiB ({cold["peak_rss_mib"] - cold["rss_after_import_mib"]:.0f} MiB above the {cold["rss_after_import_mib"]:.0f} MiB after imports) | | |',
        f'| peak RSS, warm process (max) | {max(w["peak_rss_mib"] for w in warm):.0f} MiB ({max(w["peak_rss_mib"] - w["rss_after_import_mib"] for w in warm):.0f} MiB above imports) | | |',
        f'| cache file | {cold["cache_mib"]:.1f} MiB | | |',
        f'| `import molcryst.datasets` (not in the times above) | {statistics.median([w["import_s"] for w in warm]):.2f} s | | |',
    ]
    return '\n'.join(rows)

# ----------------------------------------------------------------------------- part 2: CoRE MOF
def load_mofs(n, seed=0, subset='2019-ASR'):
    "The same `n` structures every run: default_rng(seed).choice over the table's file names; parsed up front."
    from pymatgen.io.ase import AseAtomsAdaptor
    from molcryst.datasets import coremof_dir, coremof_table, read_cif
    names = coremof_table(subset)['filename'].to_numpy()
    pick = np.random.default_rng(seed).choice(names, size=n, replace=False)
    folder = coremof_dir(subset)
    atoms, structs, kept, failed = [], [], [], []
    t0 = time.perf_counter()
    for name in pick:
        try:
            a = read_cif(folder / f'{name}.cif', occupancy='ignore')
            s = AseAtomsAdaptor.get_structure(a)
        except Exception as e:
            failed.append((str(name), f'{type(e).__name__}: {e}')); continue
        atoms.append(a); structs.append(s); kept.append(str(name))
    print(f'CoRE MOF {subset}: parsed {len(atoms)}/{n} CIFs (+ pymatgen Structures) in '
          f'{time.perf_counter() - t0:.1f} s (not timed below)', flush=True)
    for name, why in failed: print(f'  skipped {name}: {why}')
    return kept, atoms, structs, failed

class GaussianDistance:
    "CGCNN's Gaussian expansion of distances (cgcnn/data.py, Xie & Grossman 2018)."
    def __init__(self, dmin, dmax, step, var=None):
        assert dmin < dmax and dmax - dmin > step
        self.filter = np.arange(dmin, dmax + step, step)
        self.var = step if var is None else var
    def expand(self, distances):
        return np.exp(-(distances[..., np.newaxis] - self.filter) ** 2 / self.var ** 2)

class CGCNNFeaturizer:
    """A faithful small reimplementation of `CIFData.__getitem__` from the original CGCNN
    (github.com/txie-93/cgcnn, cgcnn/data.py), minus `Structure.from_file` (parsing is done up front
    for every method). Defaults as there: radius=8, max_num_nbr=12, dmin=0, step=0.2.
    The atom features come from `atom_init.json` in CGCNN (a 92-long vector per element); a fixed
    random table of the same shape stands in for it here (same lookup work, no data file needed)."""
    def __init__(self, radius=8.0, max_num_nbr=12, dmin=0, step=0.2):
        self.radius, self.max_num_nbr = radius, max_num_nbr
        self.gdf = GaussianDistance(dmin=dmin, dmax=radius, step=step)
        rng = np.random.default_rng(0)
        self.atom_init = {z: rng.random(92) for z in range(1, 119)}   # stands in for AtomCustomJSONInitializer

    def get_atom_fea(self, z): return self.atom_init[z]

    def __call__(self, crystal, cif_id='?'):
        import torch
        atom_fea = np.vstack([self.get_atom_fea(crystal[i].specie.number) for i in range(len(crystal))])
        atom_fea = torch.Tensor(atom_fea)
        all_nbrs = crystal.get_all_neighbors(self.radius, include_index=True)
        all_nbrs = [sorted(nbrs, key=lambda x: x[1]) for nbrs in all_nbrs]
        nbr_fea_idx, nbr_fea = [], []
        for nbr in all_nbrs:
            if len(nbr) < self.max_num_nbr:
                warnings.warn(f'{cif_id} not find enough neighbors to build graph. '
                              'If it happens frequently, consider increase radius.')
                nbr_fea_idx.append(list(map(lambda x: x[2], nbr)) + [0] * (self.max_num_nbr - len(nbr)))
                nbr_fea.append(list(map(lambda x: x[1], nbr)) + [self.radius + 1.] * (self.max_num_nbr - len(nbr)))
            else:
                nbr_fea_idx.append(list(map(lambda x: x[2], nbr[:self.max_num_nbr])))
                nbr_fea.append(list(map(lambda x: x[1], nbr[:self.max_num_nbr])))
        nbr_fea_idx, nbr_fea = np.array(nbr_fea_idx), np.array(nbr_fea)
        nbr_fea = self.gdf.expand(nbr_fea)
        atom_fea = torch.Tensor(atom_fea)
        nbr_fea = torch.Tensor(nbr_fea)
        nbr_fea_idx = torch.LongTensor(nbr_fea_idx)
        # (CGCNN also returns the target and cif_id; and counts every neighbour it found, for our check)
        return (atom_fea, nbr_fea, nbr_fea_idx), sum(len(n) for n in all_nbrs)

def make_methods(atoms, structs, cutoff):
    "name -> (callable returning (outputs, edges), note). Each callable featurises all structures, keeping outputs."
    import vesin
    from ase.neighborlist import neighbor_list as ase_nl
    from molcryst.graphs import build_graph
    arrays = [(a.positions.copy(), a.cell.array.copy()) for a in atoms]   # raw inputs for vesin, extracted untimed

    def f_molcryst():
        out = [build_graph(a, cutoff=cutoff) for a in atoms]
        return out, sum(g.edge_index.shape[1] for g in out)
    def f_vesin():
        nl = vesin.NeighborList(cutoff=cutoff, full_list=True)
        out = [nl.compute(points=p, box=b, periodic=True, quantities='ijSd') for p, b in arrays]
        return out, sum(len(o[0]) for o in out)
    def f_pymatgen():
        out = [s.get_neighbor_list(cutoff) for s in structs]
        return out, sum(len(o[0]) for o in out)
    cg = CGCNNFeaturizer(radius=cutoff)
    def f_cgcnn():
        res = [cg(s) for s in structs]
        return [r[0] for r in res], sum(r[1] for r in res)
    def f_ase():
        out = [ase_nl('ijSd', a, cutoff) for a in atoms]
        return out, sum(len(o[0]) for o in out)
    return {
        'molcryst `build_graph`': (f_molcryst, 'whole graph build: structure checks, vesin list grouped by centre, PyG `Data`'),
        'raw vesin': (f_vesin, "`NeighborList(full_list=True).compute(..., 'ijSd')`, one object reused"),
        'pymatgen `get_neighbor_list`': (f_pymatgen, '`Structure.get_neighbor_list(8.0)`'),
        'CGCNN featuriser': (f_cgcnn, '`get_all_neighbors` + sort + 12 nearest + Gaussian expansion (cgcnn/data.py)'),
        'ASE `neighbor_list`': (f_ase, "`ase.neighborlist.neighbor_list('ijSd', atoms, 8.0)`"),
    }

def bench_mofs(atoms, structs, cutoff, repeats, slow_repeats, skip_ase, use_tracemalloc):
    methods = make_methods(atoms, structs, cutoff)
    if skip_ase: methods.pop('ASE `neighbor_list`')
    slow = {'CGCNN featuriser', 'ASE `neighbor_list`'}
    n_rep = {m: (slow_repeats if m in slow else repeats) for m in methods}
    # warm-up (imports, first-call costs) on one small structure, untimed
    k = int(np.argmin([len(a) for a in atoms]))
    for f, _ in make_methods(atoms[k:k + 1], structs[k:k + 1], cutoff).values(): f()
    times = {m: [] for m in methods}; rss = {m: [] for m in methods}; edges, out_mib = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')      # CGCNN's "not enough neighbours" warning, should it fire
        for r in range(max(n_rep.values())):
            for m, (f, _) in methods.items():    # interleaved: every method in every round, side by side
                if r >= n_rep[m]: continue
                with RssPeak() as mem:
                    t0 = time.perf_counter(); out, e = f(); dt = time.perf_counter() - t0
                times[m].append(dt); rss[m].append(mem.delta); edges[m] = e; out_mib[m] = _nbytes(out) / MiB
                del out
                print(f'  round {r + 1}: {m:<30s} {dt:8.3f} s  {e:>11,d} edges', flush=True)
        tm = {}
        if use_tracemalloc:   # separate pass: tracemalloc slows Python-heavy code, so it is never timed
            for m, (f, _) in methods.items():
                _trim(); tracemalloc.start()
                out = f(); tm[m] = tracemalloc.get_traced_memory()[1] / MiB
                tracemalloc.stop(); del out
                print(f'  tracemalloc: {m:<30s} {tm[m]:8.1f} MiB', flush=True)
    return methods, times, rss, tm, edges, out_mib, n_rep

def mof_table(methods, times, rss, tm, edges, out_mib, n_rep, n_struct, cutoff):
    med = {m: statistics.median(t) for m, t in times.items()}
    v = med['raw vesin']
    def fmt(x, d=1): return '—' if x is None else f'{x:.{d}f}'
    rows = [f'| method ({n_struct} CoRE MOF 2019-ASR, {cutoff:g} Å, full lists) | seconds (median) | × vesin | peak MiB (RSS) | peak MiB (tracemalloc) | output MiB | notes |',
            '|---|---|---|---|---|---|---|']
    for m, (_, note) in methods.items():
        runs = ', '.join(f'{t:.2f}' for t in times[m])
        pk = [x for x in rss[m] if x is not None]
        rows.append(f'| {m} | {med[m]:.3f} | {med[m] / v:.2f}× | {fmt(max(pk) if pk else None, 0)} | '
                    f'{fmt(tm.get(m), 0)} | {out_mib[m]:.0f} | {note}; {n_rep[m]} run{"s" if n_rep[m] > 1 else ""} ({runs} s); '
                    f'{edges[m]:,} edges |')
    mc = med['molcryst `build_graph`']
    lines = ['\n'.join(rows), '']
    lines.append(f'- molcryst vs raw vesin: **{mc / v:.2f}×** the time (goal ≤ {GOAL_VS_VESIN}×) '
                 f'{"✅" if mc / v <= GOAL_VS_VESIN else "❌"}')
    if 'CGCNN featuriser' in med:
        sp = med['CGCNN featuriser'] / mc
        lines.append(f'- molcryst vs CGCNN featuriser: **{sp:.1f}× faster** (goal ≥ {GOAL_VS_CGCNN:.0f}×) '
                     f'{"✅" if sp >= GOAL_VS_CGCNN else "❌"}')
    full = {m: e for m, e in edges.items() if m != 'CGCNN featuriser'}
    agree = len(set(full.values())) == 1
    lines.append(f'- edge counts of the full-list methods {"agree" if agree else "DIFFER"}: '
                 + ', '.join(f'{m} {e:,}' for m, e in full.items()))
    return '\n'.join(lines)

# ----------------------------------------------------------------------------- main
def environment():
    import torch, vesin, ase, pymatgen.core
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    ver = lambda m: getattr(m, '__version__', '?')
    try:   # the code measured: the checkout's commit, and whether molcryst/ has uncommitted changes
        git = lambda *a: subprocess.run(['git', '-C', str(HERE.parent), *a], capture_output=True, text=True).stdout.strip()
        rev = git('rev-parse', '--short', 'HEAD') + (' + uncommitted changes in molcryst/' if git('status', '--porcelain', 'molcryst') else '')
    except OSError: rev = '?'
    return (f'{time.strftime("%Y-%m-%d %H:%M")}, molcryst at {rev}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, '
            f'numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), vesin {ver(vesin)}, '
            f'ase {ver(ase)}, pymatgen {ver(pymatgen.core)}; OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}')

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--repeats', type=int, default=3, help='timed rounds per method, and warm QM9 loads (median reported)')
    p.add_argument('--slow-repeats', type=int, default=None, help='rounds for the CGCNN and ASE methods (default: --repeats)')
    p.add_argument('--n-mofs', type=int, default=200, help='CoRE MOF structures (default 200)')
    p.add_argument('--seed', type=int, default=0, help='seed of the structure choice (default 0)')
    p.add_argument('--cutoff', type=float, default=8.0, help='CoRE MOF cut-off, Å (default 8)')
    p.add_argument('--qm9-limit', type=int, default=None, help='first N QM9 molecules only (quick runs)')
    p.add_argument('--skip-qm9', action='store_true')
    p.add_argument('--skip-mofs', action='store_true')
    p.add_argument('--skip-ase', action='store_true', help='leave out ASE (the slowest)')
    p.add_argument('--no-tracemalloc', action='store_true', help='skip the extra tracemalloc pass per method')
    p.add_argument('--out', type=Path, default=RESULTS, help=f'markdown output (default {RESULTS.relative_to(HERE.parent)})')
    p.add_argument('--_qm9-child', dest='qm9_child', choices=['cold', 'warm'], help=argparse.SUPPRESS)
    p.add_argument('--_root', dest='root', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.qm9_child: return _qm9_child(a.qm9_child, a.root, a.qm9_limit)

    sections = [f'# Featurisation benchmark\n\n{environment()}\n\n'
                f'Command: `{" ".join([Path(sys.executable).name, *sys.argv])}`']
    print(sections[0], flush=True)
    if not a.skip_qm9:
        cold, warm = bench_qm9(a.qm9_limit, a.repeats)
        sections.append('## QM9 graph cache\n\nCold: empty cache folder, one fresh process (read the CSVs, neighbour '
                        'lists, write the cache). Warm: a fresh process per load, `QM9(...)` call only.\n\n'
                        + qm9_table(cold, warm, a.qm9_limit))
        print('\n' + sections[-1] + '\n', flush=True)
    if not a.skip_mofs:
        names, atoms, structs, failed = load_mofs(a.n_mofs, a.seed)
        nat = [len(x) for x in atoms]
        res = bench_mofs(atoms, structs, a.cutoff, a.repeats, a.slow_repeats or a.repeats, a.skip_ase, not a.no_tracemalloc)
        e = res[4]['raw vesin']
        head = (f'## CoRE MOF 2019-ASR neighbour lists\n\n{len(atoms)} structures (`default_rng({a.seed}).choice` of '
                f'{a.n_mofs} names; {len(failed)} failed to parse'
                + (': ' + '; '.join(f'{n} ({w})' for n, w in failed) if failed else '') + '). '
                f'Atoms per cell: median {int(np.median(nat))}, min {min(nat)}, max {max(nat)}, total {sum(nat):,}. '
                f'Edges at {a.cutoff:g} Å (full list): {e:,} in total, {e / sum(nat):.0f} per atom on average.\n\n'
                'Parsing (ASE `read_cif`, pymatgen conversion) is done before timing. Each round runs every method once over '
                'all structures, keeping the outputs; seconds are the median over rounds. '
                'Peak RSS: kernel high-water mark above the starting RSS during a timed round (max over rounds); '
                'tracemalloc: Python/NumPy heap peak in a separate untimed pass (misses C++ allocations inside vesin). '
                'Output MiB: arrays/tensors kept for all structures.\n\n')
        sections.append(head + mof_table(*res[:6], res[6], len(atoms), a.cutoff))
        print('\n' + sections[-1] + '\n', flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text('\n\n'.join(sections) + '\n')
    print(f'wrote {a.out}')

if __name__ == '__main__':
    main()
