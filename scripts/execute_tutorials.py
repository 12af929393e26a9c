"""Execute the Colab tutorials (colab/*.ipynb) at their own parameters and store their outputs in place: a reader on
GitHub or in the docs sees what each one does.

    python scripts/execute_tutorials.py                 # all four (about 10 minutes on 2 CPU cores)
    python scripts/execute_tutorials.py 04_md           # one

Each runs under papermill in a scratch folder with `progress=False` (no progress bars in the stored outputs), figures
inline as on Colab. The parameters cell keeps its defaults; the injected-parameters cell and papermill's metadata are
removed, and the first cell gets a line saying when, where and how long the stored run was. CI executes the same
notebooks at small parameters (tests/test_colab.py) without writing them back.
"""
from __future__ import annotations
import argparse, os, platform, re, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLAB = ROOT / 'colab'
MARK = re.compile(r'\n*\*Outputs stored from .*?\*\n?', re.S)


def cpu() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def commit() -> str:
    return subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip() or '?'


def execute(name: str) -> float:
    import nbformat, papermill as pm
    src = COLAB / f'{name}.ipynb'
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    os.environ.setdefault('WANDB_MODE', 'offline')
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        pm.execute_notebook(str(src), str(Path(tmp) / src.name), parameters=dict(progress=False), cwd=tmp, kernel_name='python3',
                            progress_bar=False, execution_timeout=3600)
        minutes = (time.perf_counter() - t) / 60
        nb = nbformat.read(Path(tmp) / src.name, as_version=4)
    stamp(tidy(nb), f'{minutes:.1f} min with the parameters below and `progress=False`; '
                    f'`python scripts/execute_tutorials.py {name}` makes them again')
    nbformat.write(nb, src)
    return minutes


def tidy(nb):
    "An executed notebook as it is stored: no injected-parameters cell, no stderr (warnings, progress bars), no papermill metadata."
    nb.cells = [c for c in nb.cells if 'injected-parameters' not in c.metadata.get('tags', [])]
    for c in nb.cells:
        c.metadata = {'tags': c.metadata['tags']} if c.metadata.get('tags') else {}    # papermill adds empty tags
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and o.get('name') == 'stderr': o['text'] = ''
        if c.cell_type == 'code':
            outs = []
            for o in c.outputs:
                if o.get('output_type') == 'stream' and not o.get('text'): continue
                if o.get('output_type') == 'stream' and outs and outs[-1].get('output_type') == 'stream' and outs[-1].get('name') == o.get('name'):
                    outs[-1]['text'] = ''.join(outs[-1]['text']) + ''.join(o['text'])   # one block per stream, as Jupyter shows it
                    continue
                outs.append(o)
            c.outputs = outs
    nb.metadata.pop('papermill', None)
    return nb


def stamp(nb, what:str):
    "Say at the end of the first cell where, when and how the stored outputs were made (replacing an earlier line)."
    head = MARK.sub('', nb.cells[0].source).rstrip()
    nb.cells[0].source = (head + f'\n\n*Outputs stored from a run on {cpu()} ({os.cpu_count()} cores, CPU only), commit {commit()}, '
                          f'{time.strftime("%Y-%m-%d")}: {what}.*')
    return nb


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('names', nargs='*', help='tutorials to run (default: all in colab/)')
    a = p.parse_args(argv)
    names = a.names or sorted(x.stem for x in COLAB.glob('*.ipynb'))
    for n in names:
        print(f'{n}: {execute(n):.1f} min', flush=True)


if __name__ == '__main__': main()
