"""Execute a study notebook (nbs/*.ipynb) at a given scale and store its outputs in place: the reference run whose
figures and tables a reader sees in the repository and the docs.

    python scripts/run_study.py 20_hpo -p limit 5000 -p max_evals 20 -p max_epochs 10 -p seeds 3 -p save_reference True
    python scripts/run_study.py 20_hpo --threads 1 ...     # one core (the default): a long study beside other work

The notebook runs under papermill from the repository root (its run folders under runs/, its result files under
benchmarks/reference/), figures inline. Values are read as YAML, as papermill's `-p` does. The parameters cell keeps
its defaults (the quick scale CI executes); the injected-parameters cell, stderr and papermill's metadata are removed,
and the first cell gets a line saying when, where, how long, and the exact command that makes the outputs again. A
study that fails leaves the stored notebook as it was. Studies resume: rerunning the same command after an
interruption continues where the run folders stopped.
"""
from __future__ import annotations
import argparse, os, shlex, sys, tempfile, time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
from execute_tutorials import stamp, tidy  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('name', help='the notebook, e.g. 20_hpo or nbs/20_hpo.ipynb')
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


def main(argv=None):
    a = parse(argv)
    import nbformat, papermill as pm
    src = notebook(a.name)
    params = {k: yaml.safe_load(v) for k, v in a.parameter}
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    os.environ.setdefault('WANDB_MODE', 'offline')
    for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[v] = str(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / src.name
        t = time.perf_counter()
        pm.execute_notebook(str(src), str(out), parameters=params, cwd=str(ROOT), kernel_name='python3', language='python', progress_bar=False,
                            execution_timeout=a.timeout)
        minutes = (time.perf_counter() - t) / 60
        nb = nbformat.read(out, as_version=4)
    cmd = command(src.stem, a.parameter, a.threads)
    stamp(tidy(nb), f'{minutes:.1f} min wall, {a.threads} thread{"s" if a.threads > 1 else ""}, with '
                    + (', '.join(f'`{k}={v!r}`' for k, v in params.items()) or 'the defaults')
                    + f' (the parameters cell shows the defaults); `{cmd}` makes them again')
    nbformat.write(nb, src)
    print(f'{src.relative_to(ROOT)}: stored, {minutes:.1f} min')


if __name__ == '__main__': main()
