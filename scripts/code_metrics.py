"""Code-shape figures for the redesign notes: module sizes, the longest functions, exported cell sizes per chapter.

    python scripts/code_metrics.py            # prints three tables (Markdown)
"""
import ast, json, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def module_sizes():
    rows = [(p.relative_to(ROOT).as_posix(), len(p.read_text().splitlines()))
            for p in sorted((ROOT / 'molcryst').rglob('*.py')) if p.name != '_modidx.py']
    return sorted(rows, key=lambda r: -r[1])

def longest_functions(n=5):
    out = []
    for p in (ROOT / 'molcryst').rglob('*.py'):
        if p.name == '_modidx.py': continue
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                nargs = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
                if a.args and a.args[0].arg in ('self', 'cls'): nargs -= 1
                out.append((node.end_lineno - node.lineno + 1, nargs, f'{p.relative_to(ROOT).as_posix()}:{node.name}'))
    return sorted(out, reverse=True)[:n]

def cell_sizes():
    rows = []
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        sizes = []
        for c in cells:
            if c['cell_type'] != 'code': continue
            src = ''.join(c['source']).splitlines()
            if any(l.strip().replace(' ', '') in ('#|export', '#|exports') for l in src[:3]):
                sizes.append(len([l for l in src if not l.strip().startswith('#|')]))
        if sizes: rows.append((nb.name, len(sizes), statistics.median(sizes), max(sizes), sum(s > 50 for s in sizes)))
    return rows

if __name__ == '__main__':
    ms = module_sizes()
    total = sum(r[1] for r in ms)
    print(f'## Modules ({total} lines; the five largest hold {sum(r[1] for r in ms[:5]) / total:.0%})\n\n| module | lines |\n|---|---|')
    for m, l in ms: print(f'| {m} | {l} |')
    print('\n## Longest functions\n\n| function | lines | parameters |\n|---|---|---|')
    for l, a, name in longest_functions(): print(f'| {name} | {l} | {a} |')
    cs = cell_sizes()
    allc = [r for r in cs]
    print('\n## Exported cells per chapter\n\n| notebook | cells | median lines | max | over 50 |\n|---|---|---|---|---|')
    for r in cs: print(f'| {r[0]} | {r[1]} | {r[2]:g} | {r[3]} | {r[4]} |')
    print(f'\nover 50 lines in all: {sum(r[4] for r in cs)}')
