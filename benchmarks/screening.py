"""Screening benchmark: `molcryst predict MODEL FOLDER --out results.csv` (molcryst.screening.screen) over CoRE MOF
2019-ASR CIFs with the shipped CGCNN void-fraction model, against building the same graphs with the original CGCNN
featuriser (pymatgen `Structure.from_file` + `get_all_neighbors` + 12 nearest + Gaussian expansion, cgcnn/data.py).

    .venv/bin/python benchmarks/screening.py                        # all ~12,000 CIFs (about an hour on 2 cores)
    .venv/bin/python benchmarks/screening.py --limit 1000 --save-reference
    .venv/bin/python benchmarks/screening.py --variants screen --workers 0 --save-reference   # only the whole screen, all CIFs

`--variants` picks rows (screen, in-process, quarter, graphs, cgcnn; default all); with `--save-reference` the rows
are added to those already in the file (keyed by method and number of structures), so the all-CIF screen and the
like-for-like comparison on a subset can be separate runs. x_cgcnn is only given for rows measured in the same run
as a CGCNN featuriser row.

Each variant runs in a fresh process, one after another, so its peak resident memory (the process and its workers,
`getrusage`) is its own. Rows:
  screen, W workers   the whole screen: CIF parsing and graphs in W spawned worker processes, the model and the CSV
                      in the main one (W = cores - 1 by default)
  screen, in process  the same with workers=0
  screen, 1/4 of the CIFs   the first row's variant on a quarter of the structures: peak memory should not grow
                      with the number of structures (the screen streams)
  molcryst graphs     `read_structures` + `build_graph` in one process, no model: like for like with ...
  CGCNN featuriser    ... the original CGCNN's per-structure featurisation in one process (its DataLoader's default)
Structures/s count every input, including those that fail (they are parsed too). Not a test: nothing here asserts.
"""
from __future__ import annotations
import argparse, json, os, resource, subprocess, sys, tempfile, time, warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path: sys.path.insert(0, str(HERE.parent))
MODEL = 'cgcnn-coremof-vf'


def cifs(limit):
    from molcryst.mofs import coremof_dir
    files = sorted(str(p) for p in coremof_dir(progress=False).glob('*.cif'))
    return files[:limit] if limit else files


def peak_rss_mib()->float:
    "Peak resident memory of this process and of its (waited-for) children, the larger of the two (MiB)."
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def child(variant:str, files:list, workers:int, tmp:Path)->dict:
    t0 = time.perf_counter()
    ok = failed = 0
    if variant == 'screen':
        from molcryst.screening import screen
        folder = tmp / 'in'; folder.mkdir()
        for f in files: os.symlink(f, folder / Path(f).name)
        s = screen(MODEL, [folder], tmp / 'out.csv', workers=workers, progress=False)
        ok, failed = s.predicted, s.failed
    elif variant == 'graphs':
        from molcryst.graphs import build_graph
        from molcryst.inference import read_structures
        from molcryst.training import load
        g = load(MODEL).graph
        for f in files:
            try:
                for n, a in read_structures(f): build_graph(a, g['cutoff'], g.get('max_neighbors'), name=f)
                ok += 1
            except Exception: failed += 1
    elif variant == 'cgcnn':
        import importlib.util
        spec = importlib.util.spec_from_file_location('featurize', HERE / 'featurize.py')
        fz = importlib.util.module_from_spec(spec); spec.loader.exec_module(fz)
        from pymatgen.core import Structure
        feat = fz.CGCNNFeaturizer()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for f in files:
                try: feat(Structure.from_file(f), Path(f).stem); ok += 1
                except Exception: failed += 1
    else: raise SystemExit(f'unknown variant {variant!r}')
    return dict(ok=ok, failed=failed, seconds=time.perf_counter() - t0, peak_rss_mib=peak_rss_mib())


def run_child(variant, limit, workers):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, '--child', variant, '--limit', str(limit or 0), '--workers', str(workers), '--tmp', tmp]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode: raise SystemExit(f'{variant}: failed\n{p.stderr[-3000:]}')
        return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--limit', type=int, default=None, help='the first N CIFs by name (default: all)')
    p.add_argument('--workers', type=int, default=None, help='graph-building processes of the screen (default: cores - 1, at least 1)')
    p.add_argument('--variants', default='all', help='comma-separated rows to run: screen, in-process, quarter, graphs, cgcnn (default all)')
    p.add_argument('--save-reference', action='store_true', help='write the table to benchmarks/reference/screening.json')
    p.add_argument('--child', help=argparse.SUPPRESS); p.add_argument('--tmp', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    files = cifs(a.limit or None)
    if a.child:
        print(json.dumps(child(a.child, files, a.workers, Path(a.tmp)))); return
    cores = len(os.sched_getaffinity(0))
    workers = a.workers if a.workers is not None else max(1, cores - 1)
    n, quarter = len(files), max(1, len(files) // 4)
    wl = 'in process' if workers == 0 else f'{workers} worker{"s" if workers > 1 else ""}'
    variants = {'screen': (f'screen, {wl}', 'screen', n, workers),
                'in-process': ('screen, in process', 'screen', n, 0),
                'quarter': (f'screen, {wl}, 1/4 of the CIFs', 'screen', quarter, workers),
                'graphs': ('molcryst graphs (no model)', 'graphs', n, 0),
                'cgcnn': ('CGCNN featuriser (pymatgen)', 'cgcnn', n, 0)}
    chosen = list(variants) if a.variants == 'all' else [v.strip() for v in a.variants.split(',')]
    bad = [v for v in chosen if v not in variants]
    if bad: raise SystemExit(f"unknown variant(s) {', '.join(bad)}; valid: {', '.join(variants)}")
    if workers == 0 and 'in-process' in chosen and 'screen' in chosen: chosen.remove('in-process')   # the same run twice
    rows = []
    for label, v, m, w in (variants[c] for c in chosen):
        r = run_child(v, m, w)
        rows.append(dict(method=label, structures=m, ok=r['ok'], failed=r['failed'], seconds=round(r['seconds'], 1),
                         structures_per_s=round(m / r['seconds'], 2), peak_rss_mib=round(r['peak_rss_mib'], 0)))
        print(f"{label}: {m} CIFs, {r['ok']} ok, {r['failed']} failed, {r['seconds']:.1f} s, {m / r['seconds']:.2f}/s, "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
    ref = next((r['structures_per_s'] for r in rows if r['method'].startswith('CGCNN')), None)
    for r in rows: r['x_cgcnn'] = round(r['structures_per_s'] / ref, 2) if ref else None
    cols = ['method', 'structures', 'ok', 'failed', 'seconds', 'structures_per_s', 'x_cgcnn', 'peak_rss_mib']
    print('\n| ' + ' | '.join(cols) + ' |\n|' + '---|' * len(cols))
    for r in rows: print('| ' + ' | '.join(str(r[c]) for c in cols) + ' |')
    if a.save_reference:
        sys.path.insert(0, str(HERE)); import report
        cmd = ('python benchmarks/screening.py' + (f' --limit {a.limit}' if a.limit else '') + (f' --workers {a.workers}' if a.workers is not None else '')
               + (f' --variants {a.variants}' if a.variants != 'all' else '') + ' --save-reference')
        old = report.REFERENCE / 'screening.json'
        kept = [] if not old.exists() else [x for x in json.loads(old.read_text()).get('notes', []) if not x.startswith(f'Run `{cmd}`')]
        print(report.save('screening', rows, cols, command=cmd, key=('method', 'structures'),
                          notes=kept + [f'Run `{cmd}` ({time.strftime("%Y-%m-%d")}): CoRE MOF 2019-ASR, the first {n:,} CIFs by name; model {MODEL} (CGCNN, 12 neighbours within 8 Å); {cores} core(s) '
                                 f'available to the run (taskset){": the worker variants show the overhead of the processes, not a parallel speed-up" if cores == 1 else ""}; '
                                 'each variant a fresh process, run one after another; peak RSS: the process or its workers, '
                                 'whichever is larger (getrusage); structures/s count failed inputs too; x_cgcnn: structures/s '
                                 'over the CGCNN featuriser\'s (which builds graphs only, no model)']))


if __name__ == '__main__': main()
