"""Committed benchmark results: small JSON files in benchmarks/reference/, and the README tables rendered from them.

A benchmark run with `--save-reference` writes `benchmarks/reference/<name>.json`: the rows of its table, the columns
to show, the command that produced it, the commit, the machine (CPU model, cores, threads), the date and notes.
`benchmarks/README.md` shows each file between the markers

    <!-- result:<name> -->
    ... (generated) ...
    <!-- /result:<name> -->

and `python benchmarks/report.py` rewrites every such block from its file (`--check` only says whether a block is
stale; the test suite runs it). Numbers in the README therefore always come from a committed file, never by hand.
"""
from __future__ import annotations
import argparse, json, os, platform, re, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / 'reference'
README = HERE / 'README.md'
PAPER_QM9 = {'homo': {'MPNN': 0.15, 'MPNN-transformer': 0.09}, 'zpve': {'MPNN': 0.03, 'MPNN-transformer': 0.01}}   # eV, Park et al. 2023, Figure 2
BLOCK = re.compile(r'(<!-- result:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /result:(?P=name) -->)', re.S)

def machine()->dict:
    "CPU model, cores, torch threads and versions of the machine this process runs on."
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    flags = ''
    try: flags = next(l for l in open('/proc/cpuinfo') if l.startswith('flags'))
    except (OSError, StopIteration): pass
    isa = 'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'other'
    info = dict(cpu=cpu, isa=isa, cores=os.cpu_count(), python=platform.python_version())
    try:
        import torch
        info.update(torch=torch.__version__, threads=torch.get_num_threads())
    except ImportError: pass
    info['OMP_NUM_THREADS'] = os.environ.get('OMP_NUM_THREADS', 'unset')
    try: info['affinity'] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError): pass
    return info

def commit()->str:
    git = lambda *a: subprocess.run(['git', '-C', str(HERE.parent), *a], capture_output=True, text=True).stdout.strip()
    try: rev = git('rev-parse', '--short', 'HEAD')
    except OSError: return '?'
    return rev + (' + uncommitted changes in molcryst/' if git('status', '--porcelain', 'molcryst') else '')

def save(name:str, rows:list[dict], columns:list[str], command:str, notes:list[str]=(), extra:dict|None=None,
         key:tuple[str, ...]|None=None)->Path:
    """Write `reference/<name>.json`. With `key`, rows already in the file whose key differs from every new row's are
    kept (runs of one table made by separate processes, e.g. one per core, add up); the write is atomic."""
    import fcntl
    REFERENCE.mkdir(exist_ok=True)
    path = REFERENCE / f'{name}.json'
    with open(REFERENCE / f'.{name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(path.read_text()) if key and path.exists() else None
        if old:
            new_keys = {tuple(r[k] for k in key) for r in rows}
            rows = [r for r in old['rows'] if tuple(r.get(k) for k in key) not in new_keys] + list(rows)
            merged = dict(old.get('extra', {}))
            for k, v in (extra or {}).items():      # one level deep: per-run entries of a mapping add up too
                merged[k] = {**merged[k], **v} if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
            extra = merged
        data = dict(name=name, date=time.strftime('%Y-%m-%d %H:%M'), commit=commit(), machine=machine(), command=command,
                    columns=list(columns), rows=rows, notes=list(notes), extra=extra or {})
        tmp = path.with_suffix('.json.tmp')
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + '\n')
        os.replace(tmp, path)
    return path

LABELS = {'graphs_per_s': 'graphs/s', 'speedup': '× reference', 'peak_tensor_mib': 'peak tensor MiB (1 step)',
          'peak_rss_mib': 'peak RSS Δ MiB', 'float64_rel_diff': 'float64 vs reference: outputs / gradients (max rel.)',
          'per_round': 'per round', 'form': 'edge network form', 'steps_s': 'steps/s (wall)', 'ratio': '× torchmd-net',
          'cpu_steps_s': 'steps per CPU s', 'cpu_ratio': '× torchmd-net (CPU)', 'flush': 'flush subnormals',
          # the MD study (nbs/40_md.ipynb)
          'w_bonds_A': 'W, all bonds (Å)', 'noise_bonds_A': 'noise, bonds (Å)', 'bonds_x_noise': 'bonds: × noise',
          'w_angles_deg': 'W, all angles (°)', 'noise_angles_deg': 'noise, angles (°)', 'angles_x_noise': 'angles: × noise',
          'drift_meV_per_atom_per_ps': 'NVE drift (meV/atom/ps)', 'steps_per_cpu_s': 'model steps per CPU s',
          'cpu_min': 'model CPU min', 'xtb_cpu_min': 'GFN2-xTB CPU min',
          # SchNet vs schnetpack (benchmarks/models.py part 6)
          'molcryst': 'molcryst graphs/s', 'schnetpack': 'schnetpack graphs/s', 'x_schnetpack': '× schnetpack',
          'rounds': 'per round (molcryst:schnetpack)', 'x_schnetpack_cpu': '× schnetpack (CPU time)',
          'schnetpack_allocator': 'schnetpack + allocator graphs/s', 'x_schnetpack_allocator': '× that',
          'molcryst_gflops': 'molcryst GFLOP/s', 'schnetpack_gflops': 'schnetpack GFLOP/s',
          'gflop_per_epoch': 'GFLOP per epoch (molcryst / schnetpack)',
          # ET against TensorNet (benchmarks/md_backbones.py)
          'train_minutes': 'training (min)', 'energy_mae_mev': 'energy MAE (meV)', 'forces_mae_mev_a': 'forces MAE (meV/Å)',
          'tmd_steps_s': 'torchmd-net calculator steps/s', 'tensor_steps_s': 'tensor engine steps/s',
          'compiled_steps_s': 'compiled engine steps/s', 'compile_s': 'compile (s)'}

# labels of one result file's columns where the shared ones above would mislead
LABELS_OF = {'models-speedup': {'baseline': 'before graphs/s', 'molcryst': 'now graphs/s', 'speedup': '× before',
                                'rounds': 'per round (now:before)', 'compiled': 'now, compiled graphs/s', 'compiled_speedup': 'compiled × before',
                                'compile_s': 'compiling + warm-up epoch (s)', 'loader': 'training loop (now vs before)', 'goal': 'goal ≥ 1.5×'},
             'models-roofline': {'ceiling': 'ceiling graphs/s', 'of_ceiling': 'share of the ceiling reached',
                                 'compiled_graphs_per_s': 'compiled graphs/s', 'compiled_of_ceiling': 'compiled: share of the ceiling',
                                 'mm_only': 'matmul-only limit graphs/s', 'mm_share': 'matmul share of op time',
                                 'mm_gflops': 'matmul GFLOP/s', 'memory_share': 'memory-bound share of op time',
                                 'memory_of_least': 'memory-bound ops at this share of bandwidth',
                                 'unknown_share': 'unrecorded ops (counted free)', 'goal': 'goal ≥ 70 % (SchNet)'}}

def _profiles(profiles:dict)->list[str]:
    "Where the time of a training step goes: the parts of the model, and the operators with the most self CPU time."
    out = []
    for name, p in profiles.items():
        out += ['', f'Profile of `{name}` (form `{p.get("edge_impl")}`), {p["steps"]} training steps, {p["ms_per_step"]:.0f} ms of '
                'self CPU time per step. Inclusive time per part: ' + ', '.join(f'{k} {v:.1f} ms' for k, v in p['parts'].items()) + '.', '',
                '| operator | self CPU ms / step | calls / step |', '|---|---|---|']
        out += [f'| `{k}` | {t:.1f} | {c} |' for k, t, c in p['ops'][:8]]
    return out

def _cell(v)->str:
    if v is None: return '–'
    if isinstance(v, float): return f'{v:g}'
    if isinstance(v, list): return ', '.join(_cell(x) for x in v)
    return str(v)

def render(name:str)->str:
    "The README block of one result file: a line on where it comes from, the table, the notes."
    d = json.loads((REFERENCE / f'{name}.json').read_text())
    m = d['machine']
    head = (f'*From [`reference/{name}.json`](reference/{name}.json), written {d["date"]} at commit `{d["commit"]}` on '
            f'{m["cpu"]} ({m.get("isa", "?")}, {m["cores"]} cores, torch {m.get("torch", "?")} with {m.get("threads", "?")} '
            f'threads) by `{d["command"]}`.*')
    cols = d['columns']
    labels = {**LABELS, **LABELS_OF.get(name, {})}
    lines = [head, '', '| ' + ' | '.join(labels.get(c, c.replace('_', ' ')) for c in cols) + ' |', '|' + '---|' * len(cols)]
    lines += ['| ' + ' | '.join(_cell(r.get(c)) for c in cols) + ' |' for r in d['rows']]
    for n in d.get('notes', []): lines += ['', n]
    if d.get('extra', {}).get('profiles'): lines += _profiles(d['extra']['profiles'])
    return '\n'.join(lines) + '\n'

def update(readme:Path=README, check:bool=False)->list[str]:
    "Rewrite (or with `check`, compare) every result block of `readme`; the names of the blocks that were stale."
    text = readme.read_text()
    stale = []
    def sub(mt):
        body = render(mt['name'])
        if body != mt['body']: stale.append(mt['name'])
        return mt.group(1) + body + mt.group(4)
    new = BLOCK.sub(sub, text)
    if not check and new != text: readme.write_text(new)
    return stale

def plot_curves(name:str='accuracy-qm9', out:Path|None=None)->Path:
    "The learning curves kept in a result file (`extra.curves`: run -> [[minutes, validation MAE], ...]), one panel per target."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt, matplotlib.ticker
    d = json.loads((REFERENCE / f'{name}.json').read_text())
    curves = d['extra']['curves']
    targets = sorted({k.split('/')[1] for k in curves})
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.2), squeeze=False)
    for ax, t in zip(axes[0], targets):
        for run, c in sorted(curves.items()):
            if run.split('/')[1] != t or not c: continue
            ax.plot(*zip(*c), marker='.', label=run.split('/')[0])
        for (label, v), ls in zip(PAPER_QM9.get(t, {}).items(), (':', '--')):
            ax.axhline(v, color='k', ls=ls, lw=1, label=f'paper, {label} ({v:g} eV)')
        ax.set(xlabel='minutes (one core)', ylabel=f'validation MAE {t} (eV)', yscale='log', title=f'QM9 {t}')
        fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f'{v:.3g}')     # 0.005 and 0.15 alike, on a log axis
        ax.yaxis.set_major_formatter(fmt); ax.yaxis.set_minor_formatter(fmt)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = out or REFERENCE / f'{name}-curves.png'
    fig.savefig(out, dpi=90); plt.close(fig)
    return out

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--check', action='store_true', help='only report stale blocks (exit status 1 if any)')
    p.add_argument('--curves', action='store_true', help='also draw reference/accuracy-qm9-curves.png from its learning curves')
    a = p.parse_args(argv)
    if a.curves and not a.check: print(f'wrote {plot_curves()}')
    stale = update(check=a.check)
    print(('stale: ' if a.check else 'rewrote: ') + (', '.join(stale) or 'nothing'))
    if a.check and stale: sys.exit(1)

if __name__ == '__main__':
    main()
