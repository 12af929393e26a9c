"""README.md from nbs/index.ipynb (Quarto, and so `nbdev_readme`, cannot be installed offline here).

Drops `#| hide` cells and nbdev directive lines, then renders markdown with nbconvert.
`python scripts/make_readme.py` writes README.md; `--check` exits 1 if README.md is out of date.
"""
import argparse, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent

def render(nb_path=ROOT / 'nbs' / 'index.ipynb') -> str:
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        src = c.source
        if c.cell_type == 'code':
            if re.search(r'^#\|\s*hide\s*$', src, re.M): continue
            src = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            c.source = src
            outs = []
            for o in c.get('outputs', []):   # text results only: no stderr, HTML or images in the README
                if o.get('output_type') == 'stream' and o.get('name') == 'stderr': continue
                if o.get('output_type') in ('execute_result', 'display_data'):
                    o['data'] = {k: v for k, v in o['data'].items() if k == 'text/plain'}
                outs.append(o)
            c['outputs'] = outs
        cells.append(c)
    nb.cells = cells
    body, _ = MarkdownExporter().from_notebook_node(nb)
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return '<!-- generated from nbs/index.ipynb by scripts/make_readme.py: edit the notebook, not this file -->\n\n' + body

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--check', action='store_true')
    a = ap.parse_args()
    text = render()
    readme = ROOT / 'README.md'
    if a.check:
        ok = readme.exists() and readme.read_text() == text
        print('README.md is up to date' if ok else 'README.md differs from nbs/index.ipynb: run python scripts/make_readme.py')
        sys.exit(0 if ok else 1)
    readme.write_text(text)
    print(f'wrote {readme}')
