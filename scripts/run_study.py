"""Execute a study notebook (nbs/*.ipynb) at a given scale and store its outputs in place: the reference run whose
figures and tables a reader sees in the repository and the docs.

    python scripts/run_study.py 20_hpo -p limit 5000 -p max_evals 20 -p max_epochs 10 -p seeds 3 -p save_reference True
    python scripts/run_study.py 20_hpo --threads 1 ...     # one core (the default): a long study beside other work
    python scripts/run_study.py --chapters                 # every library chapter at its own code, outputs stored (the API pages)

The notebook runs under papermill from the repository root (its run folders under runs/, its result files under
benchmarks/reference/), figures inline. Values are read as YAML, as papermill's `-p` does. The parameters cell keeps
its defaults (the quick scale CI executes); the injected-parameters cell, stderr and papermill's metadata are removed,
and the first cell gets a line saying when, where, how long, and the exact command that makes the outputs again. A
study that fails leaves the stored notebook as it was. Studies resume: rerunning the same command after an
interruption continues where the run folders stopped.

`--chapters` executes the chapters (the notebooks of nbs/ without a parameters cell) from nbs/, as `nbdev_test` does, and
stores their outputs without a line: the docs render from what is stored (`scripts/render_docs.py`). A notebook whose
cells changed while it ran is left alone (its outputs would not be its own).
"""
from __future__ import annotations
import argparse, os, shlex, subprocess, sys, tempfile, time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
from execute_tutorials import stamp, tidy  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('names', nargs='*', help='the notebooks, e.g. 20_hpo or nbs/20_hpo.ipynb')
    p.add_argument('--chapters', action='store_true', help='every chapter of nbs/ that is not a study (working directory nbs/, no line added)')
    p.add_argument('-p', '--parameter', nargs=2, action='append', default=[], metavar=('NAME', 'VALUE'))
    p.add_argument('--threads', type=int, default=1, help='OMP/torch threads of the kernel (default 1)')
    p.add_argument('--timeout', type=float, default=6 * 3600, help='seconds per cell (default 6 h)')
    return p.parse_args(argv)


def notebook(name:str)->Path:
    p = Path(name)
    for cand in (p, ROOT / p, ROOT / 'nbs' / p, ROOT / 'nbs' / f'{name}.ipynb'):
        if cand.suffix == '.ipynb' and cand.exists(): return cand.resolve()
    raise SystemExit(f'run_study: no notebook {name!r} in nbs/')


def command(name:str, params:list, threads:int)->str:
    return ' '.join(['python scripts/run_study.py', name, *(f'-p {k} {shlex.quote(v)}' for k, v in params),
                     *([f'--threads {threads}'] if threads != 1 else [])])


def _sources(nb)->list: return [(c['cell_type'], ''.join(c['source'])) for c in nb['cells']]


def chapters()->list[Path]:
    "The notebooks of nbs/ that are not studies (a study has a `parameters` cell and its own reference scale)."
    import nbformat
    return [p for p in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb'))
            if not any('parameters' in c.metadata.get('tags', []) for c in nbformat.read(p, as_version=4).cells)]


def run(src:Path, params:dict, threads:int, timeout:float, cwd:Path, line:bool, cmd:str)->float|None:
    "Execute one notebook and store its outputs in place; the minutes, or None when it changed meanwhile."
    import nbformat, papermill as pm
    before = _sources(nbformat.read(src, as_version=4))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / src.name
        t = time.perf_counter()
        pm.execute_notebook(str(src), str(out), parameters=params, cwd=str(cwd), kernel_name='python3', language='python',
                            progress_bar=False, execution_timeout=timeout)
        minutes = (time.perf_counter() - t) / 60
        nb = nbformat.read(out, as_version=4)
    tidy(nb)
    if _sources(nbformat.read(src, as_version=4)) != before: return None
    if line:
        stamp(nb, f'{minutes:.1f} min wall, {threads} thread{"s" if threads > 1 else ""}, with '
                  + (', '.join(f'`{k}={v!r}`' for k, v in params.items()) or 'the defaults')
                  + f' (the parameters cell shows the defaults); `{cmd}` makes them again')
    nbformat.write(nb, src)
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_clean'), '--fname', str(src)], capture_output=True, check=True)
    return minutes


def main(argv=None):
    a = parse(argv)
    params = {k: yaml.safe_load(v) for k, v in a.parameter}
    if a.chapters and (a.names or params): raise SystemExit('run_study: --chapters takes no names or parameters')
    if not a.chapters and not a.names: raise SystemExit('run_study: name a study or chapters (or --chapters)')
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    os.environ.setdefault('WANDB_MODE', 'offline')
    for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[v] = str(a.threads)
    chs = chapters()
    todo = chs if a.chapters else [notebook(n) for n in a.names]
    failed = []
    for src in todo:
        chapter = src in chs                     # run as nbdev_test does, no line; a study from the root, with its line
        try:
            m = run(src, params, a.threads, a.timeout, ROOT / 'nbs' if chapter else ROOT, not chapter,
                    command(src.stem, a.parameter, a.threads))
        except Exception as e:                   # papermill's PapermillExecutionError names the cell
            failed.append(src.stem); print(f'{src.relative_to(ROOT)}: FAILED, left as it was: {str(e)[:2000]}', flush=True); continue
        print(f'{src.relative_to(ROOT)}: ' + (f'stored, {m:.1f} min' if m is not None else 'changed while it ran: left as it was'), flush=True)
    if failed: raise SystemExit(f'run_study: {len(failed)} failed: {", ".join(failed)}')


if __name__ == '__main__': main()
