"""The docs site from executed notebooks: nbdev-processed pages for Quarto (`_proc/`) and a static HTML site
(`_docs/html/`) rendered with nbconvert, for machines without Quarto (it cannot be installed offline).

    python scripts/render_docs.py                        # every notebook in nbs/ from its stored outputs: process, render
    python scripts/render_docs.py index 10_train         # a subset (the sidebar still links every page)
    python scripts/render_docs.py --execute              # execute the notebooks first (papermill, at their defaults)
    python scripts/render_docs.py --execute -p 10_train:limit=300  # a papermill parameter for one page (value read as YAML)
    python scripts/render_docs.py --rerender             # the executed copies as they are (after a template change)
    python scripts/render_docs.py --screenshots _docs/screenshots   # and a headless-Chromium PNG of each page
    python scripts/render_docs.py --sidebar              # only write nbs/sidebar.yml (chapter order)
    python scripts/render_docs.py --check-sidebar        # exit 1 when nbs/sidebar.yml is out of date

By default the pages show the outputs stored in the notebooks, nbdev's own convention: the studies' reference runs
and the chapters' examples as committed (`scripts/run_study.py` makes them), with nbdev's `show_doc` tables added
while processing; nothing is executed. With `--execute` each notebook runs under papermill (kernel `python3`, working directory `_docs/work/`, so study outputs such as
`runs/10_train` land there) with the `show_doc` cells nbdev adds after exported cells, so API pages carry their
signature tables. The executed copy goes to `_docs/executed/` and is reused while the notebook and its
parameters are unchanged (`--force` re-executes; a change in `molcryst/` alone does not invalidate it). Then
nbdev's processors (`FilterDefaults`: hidden and exported cells removed, links, frontmatter) write `_proc/`, and
nbconvert renders `_docs/html/<page>.html` with a sidebar in chapter order, previous/next links and the figures
embedded as data URIs, so the folder can be opened from disk or served as it is. `quarto render _proc` turns the
same `_proc/` into the Quarto site where Quarto is installed (`make docs`).
"""
from __future__ import annotations
import argparse, copy, hashlib, html, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
COLAB = ROOT / 'colab'
TEMPLATES = Path(__file__).resolve().parent / 'docs_templates'
COLAB_URL = 'https://colab.research.google.com/github/molcryst/molcryst/blob/main/colab/{}'
SECTIONS = [(0, 3, 'Data'), (4, 9, 'Models'), (10, 19, 'Training'), (20, 29, 'Hyperparameter search'),
            (30, 39, 'Explanation'), (40, 49, 'Molecular dynamics'), (50, 59, 'Command line')]
QUARTO_FILES = ('_quarto.yml', 'nbdev.yml', 'sidebar.yml', 'styles.css')

# ---------------------------------------------------------------------------------------------------- chapters

def _cells(path:Path)->list:
    return json.loads(path.read_text(encoding='utf-8'))['cells']

def _src(cell)->str:
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s

def _title(path:Path)->tuple[str, str]:
    "Title and one-line summary from the first markdown cell (`# Title` and `> summary`)."
    for c in _cells(path):
        if c['cell_type'] != 'markdown': continue
        s = _src(c)
        m = re.search(r'^#\s+(\S.*?)\s*$', s, re.M)
        if not m: continue
        desc = ' '.join(l[1:].strip() for l in s.splitlines() if l.startswith('>'))
        return m.group(1), desc
    return path.stem, ''

def _is_api(path:Path)->bool:
    return any(c['cell_type'] == 'code' and re.search(r'^#\|\s*default_exp\s', _src(c), re.M) for c in _cells(path))

def _section(stem:str)->str:
    m = re.match(r'^(\d+)', stem)
    if not m: return 'More'
    n = int(m.group(1))
    return next((name for lo, hi, name in SECTIONS if lo <= n <= hi), 'More')

def _base_name(stem:str)->str:
    "nbdev's page name: the numeric prefix dropped (`10a_training` -> `training`), as its doc links expect."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', stem.lower())

def chapters(nbs:Path=NBS)->list[dict]:
    """Every notebook in `nbs/`, in chapter order: index first, then by chapter number, the API chapters of a number
    (those with `default_exp`) before its study. Each: stem, path, page (HTML file name), title, description, section."""
    out = []
    for p in sorted(nbs.glob('*.ipynb')):
        title, desc = _title(p)
        out.append(dict(stem=p.stem, path=p, api=_is_api(p), title=title, description=desc,
                        section='' if p.stem == 'index' else _section(p.stem), base=_base_name(p.stem)))
    def key(c):
        if c['stem'] == 'index': return (-1, 0, '')
        m = re.match(r'^(\d+)', c['stem'])
        return (int(m.group(1)) if m else 10**6, 0 if c['api'] else 1, c['stem'])
    out.sort(key=key)
    seen = {}
    for c in out: seen.setdefault(c['base'], []).append(c)
    for base, cs in seen.items():
        for c in cs:
            # API chapters keep nbdev's name (doc links point there); a study that shares it gets `-study`
            c['page'] = base + ('-study' if len(cs) > 1 and not c['api'] else '') + '.html'
    pages = [c['page'] for c in out]
    for c in out:
        if pages.count(c['page']) > 1: c['page'] = c['stem'].lower() + '.html'
    return out

def colab_tutorials(colab:Path=COLAB)->list[dict]:
    return [dict(stem=p.stem, title=_title(p)[0], url=COLAB_URL.format(p.name)) for p in sorted(colab.glob('*.ipynb'))]

# ---------------------------------------------------------------------------------------------------- sidebar

def sidebar_yml(chs:list[dict]|None=None, tutorials:list[dict]|None=None)->str:
    "Quarto's `sidebar.yml`: the notebooks in chapter order, grouped in sections, then the Colab tutorials."
    chs = chapters() if chs is None else chs
    tutorials = colab_tutorials() if tutorials is None else tutorials
    contents, current = [], None
    for c in chs:
        if not c['section']: contents.append(c['path'].name); continue
        if current is None or current['section'] != c['section']:
            current = {'section': c['section'], 'contents': []}; contents.append(current)
        current['contents'].append(c['path'].name)
    if tutorials:
        contents.append({'section': 'Colab tutorials', 'contents': [{'text': t['title'], 'href': t['url']} for t in tutorials]})
    head = '# generated by scripts/render_docs.py --sidebar from the notebooks in nbs/ and colab/: do not edit\n'
    return head + yaml.safe_dump({'website': {'sidebar': {'contents': contents}}}, sort_keys=False, allow_unicode=True)

def write_sidebar(nbs:Path=NBS)->Path:
    p = nbs / 'sidebar.yml'
    p.write_text(sidebar_yml(chapters(nbs)), encoding='utf-8')
    return p

def write_nbdev_yml():
    "nbs/nbdev.yml from settings.ini (nbdev's refresh_quarto_yml; it leaves an existing _quarto.yml alone)."
    os.chdir(ROOT)
    from nbdev.quarto import refresh_quarto_yml
    refresh_quarto_yml()

# ---------------------------------------------------------------------------------------------------- execute

_SHOW_DOC = """#| hide
from nbdev.showdoc import show_doc as _nbdev_show_doc
def show_doc(sym, *args, **kwargs):
    "nbdev's show_doc; when an annotation names something defined further down the notebook, the exported object's."
    try: return _nbdev_show_doc(sym, *args, **kwargs)
    except NameError:
        import functools, importlib
        if not '{module}': raise
        obj = functools.reduce(getattr, sym.__qualname__.split('.'), importlib.import_module('{module}'))
        return _nbdev_show_doc(obj, *args, **kwargs)"""

def _lib_name()->str:
    from configparser import ConfigParser
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']['lib_name']

def _test_flags()->list[str]:
    from configparser import ConfigParser
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini', encoding='utf-8')
    return cfg['DEFAULT'].get('tst_flags', '').split()

def _with_show_docs(src:Path, dst:Path)->dict:
    """The notebook with nbdev's `show_doc` cells after exported cells (and the import they need), directives intact.
    Cells flagged with one of settings.ini's `tst_flags` (nbdev_test skips them) are not run: returns {id: source}."""
    from execnb.nbio import read_nb, write_nb, mk_cell
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs
    nb, probe = read_nb(src), read_nb(src)
    NBProcessor(nb=probe, procs=[add_show_docs]).process()   # strips directives from `probe`, so only its order is used
    cells, orig = [], iter(nb.cells)
    for c in probe.cells:
        cells.append(mk_cell(c.source) if getattr(c, 'has_sd', False) else next(orig))
    rest = list(orig)
    if rest: raise RuntimeError(f'{src.name}: nbdev dropped {len(rest)} cell(s) while adding show_doc cells')
    if any(getattr(c, 'has_sd', False) for c in probe.cells):
        m = next((re.search(r'^#\|\s*default_exp\s+(\S+)', c.source, re.M) for c in nb.cells
                  if c.cell_type == 'code' and re.search(r'^#\|\s*default_exp\s', c.source, re.M)), None)
        cells.insert(1 if cells and cells[0].cell_type == 'markdown' else 0, mk_cell(_SHOW_DOC.format(module=f"{_lib_name()}.{m.group(1)}" if m else '')))
    nb.cells = cells
    flags, skipped = _test_flags(), {}
    for k, c in enumerate(nb.cells):       # nbformat 4.5 wants ids on new cells
        c.setdefault('id', f'mc{k:04d}')
        c.pop('idx_', None)
        hit = [f for f in flags if c.cell_type == 'code' and re.search(rf'^#\|\s*{f}\b', c.source, re.M)]
        if hit:
            skipped[c['id']] = c.source
            c.source = f'# not executed for the docs (#| {hit[0]})'
    write_nb(nb, dst)
    return skipped

EXEC_VERSION = 3   # bump when the staging of notebooks (`_with_show_docs`) changes: executed copies are then stale

def _digest(path:Path, params:dict)->str:
    return hashlib.sha256(path.read_bytes() + json.dumps([params, EXEC_VERSION], sort_keys=True).encode()).hexdigest()[:16]

def execute(ch:dict, out_dir:Path, work_dir:Path, params:dict, force:bool=False, timeout:int=1800, log=print,
            rerender:bool=False)->Path:
    "Run one notebook under papermill into `out_dir/<stem>.ipynb`; reuse an earlier run with the same source and parameters."
    import nbformat, papermill as pm
    dst = out_dir / f"{ch['stem']}.ipynb"
    digest = _digest(ch['path'], params)
    if rerender and dst.exists() and not force:
        log(f"  {ch['stem']}: rendering the executed copy as it is (--rerender)")
        return dst
    if dst.exists() and not force:
        meta = nbformat.read(dst, as_version=4).metadata.get('molcryst_docs', {})
        if meta.get('digest') == digest:
            log(f"  {ch['stem']}: executed copy is current ({dst.relative_to(ROOT) if dst.is_relative_to(ROOT) else dst})")
            return dst
    out_dir.mkdir(parents=True, exist_ok=True); work_dir.mkdir(parents=True, exist_ok=True)
    env_backup = dict(os.environ)
    # the kernel inherits this environment: inline figures (an inherited MPLBACKEND=Agg would show none)
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    os.environ.setdefault('WANDB_MODE', 'offline')
    os.environ['PYTHONWARNINGS'] = 'ignore'
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / ch['path'].name
        skipped = _with_show_docs(ch['path'], staged)
        try:
            nb = pm.execute_notebook(str(staged), str(dst), parameters=params, cwd=str(work_dir), kernel_name='python3',
                                     progress_bar=False, log_output=False, execution_timeout=timeout)
        finally:
            os.environ.clear(); os.environ.update(env_backup)
    for c in nb.cells:
        if c.get('id') in skipped: c.source, c.outputs = skipped[c['id']], []
    nb.metadata['molcryst_docs'] = dict(digest=digest, parameters=params, seconds=round(time.perf_counter() - t, 1))
    nbformat.write(nb, dst)
    log(f"  {ch['stem']}: executed in {time.perf_counter() - t:.0f} s")
    return dst

# ---------------------------------------------------------------------------------------------------- process (nbdev)

def _frontmatter_proc():
    from nbdev.frontmatter import FrontmatterProc
    class KeepBody(FrontmatterProc):
        "nbdev's frontmatter from `# Title` / `> summary`, keeping the rest of that cell (nbdev drops it) and every `>` line."
        def _update(self, f, cell):
            s = cell.get('source')
            if cell.cell_type != 'markdown' or not s: return super()._update(f, cell)
            d = f(s)
            if not d: return
            lines = s.splitlines()
            quote = [l[1:].strip() for l in lines if l.startswith('>')]
            if quote: d['description'] = ' '.join(quote)
            self.fm.update(d)
            body = [l for l in lines if not re.match(r'^#\s+\S', l) and not l.startswith('>') and not re.match(r'^-\s+\S.*:', l)]
            cell.source = '\n'.join(body).strip() or None
    return KeepBody

def _show_docs_only():
    """nbdev's `exec_show_docs`, evaluating only what the signature tables need: exported cells, cells of imports alone and
    `show_doc` cells. nbdev's own also runs any cell that imports something, which fails on stored notebooks whose
    test cells use names from cells it does not run (their outputs are stored; they need not run again)."""
    import ast
    from nbdev.processors import exec_show_docs, _do_eval, _ast_contains, _show_docs
    def for_docs(cell):
        if not _do_eval(cell): return False
        trees = cell.parsed_()
        if cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or _show_docs(trees): return True
        return not _ast_contains(trees, (ast.Expr, ast.Assign, ast.AugAssign, ast.For, ast.With, ast.If))
    class ShowDocsOnly(exec_show_docs):
        "The `show_doc` cells run at the end, when every exported name exists (a signature may name a later class)."
        def begin(self): super().begin(); self.later = []
        def __call__(self, cell):
            if not for_docs(cell): return
            if _show_docs(cell.parsed_()) and not cell.directives_.keys() & {'export', 'exports', 'exporti'}: self.later.append(cell)
            else: super().__call__(cell)
        def end(self):
            for cell in self.later: super().__call__(cell)
            super().end()
    return ShowDocsOnly

def process(src:Path, dst:Path, page:str, executed:bool)->Path:
    """nbdev's docs processors on one notebook. For an executed notebook the `show_doc` cells already have their
    output, so nbdev's own `add_show_docs` and `exec_show_docs` are left out; otherwise they run, as in `nbdev_proc_nbs`."""
    from execnb.nbio import read_nb, write_nb
    from nbdev.process import NBProcessor
    from nbdev.processors import FilterDefaults, add_show_docs, exec_show_docs
    from nbdev.frontmatter import FrontmatterProc
    import warnings
    warnings.filterwarnings('ignore', message='Found cells containing imports')   # nbdev's FAQ hint, once per such cell
    warnings.filterwarnings('ignore', category=Warning, module='nbformat')
    os.chdir(ROOT)                                   # nbdev reads settings.ini from the working directory
    nb = read_nb(src)
    nb.path_ = str(src)
    drop = (add_show_docs, exec_show_docs) if executed else ()
    swap = {FrontmatterProc: _frontmatter_proc(), exec_show_docs: _show_docs_only()}
    procs = [swap.get(p, p) for p in FilterDefaults().procs() if p not in drop]
    NBProcessor(path=src, procs=procs, nb=nb).process()
    fm = nb.cells[0] if nb.cells and nb.cells[0].cell_type == 'raw' else None
    if fm is not None:                               # our page name (studies that share nbdev's name get `-study`)
        fm.source = re.sub(r'(?m)^output-file: .*$', f'output-file: {page}', fm.source)
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, dst)
    return dst

# ---------------------------------------------------------------------------------------------------- render (nbconvert)

_PANDOC_LINK = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)\{([^}]*)\}')
_DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+):?\s*(.*?)\s*$')

def _directives(source:str)->dict:
    d = {}
    for l in source.splitlines():
        m = _DIRECTIVE.match(l)
        if m: d[m.group(1)] = m.group(2).lower()
    return d

def _html_ready(nb):
    """Quarto's cell options as nbconvert sees them: `echo: false` hides the input, `output: false` the outputs,
    `include: false` the cell; directive lines are dropped from the code; the frontmatter becomes the page heading;
    stderr (warnings, progress) is left out, as Quarto's `warning: false` would."""
    import nbformat
    cells = []
    for c in nb.cells:
        if c.cell_type == 'raw':
            m = re.match(r'^---\s*\n(.*?)\n---', c.source, re.S)
            if m:
                fm = yaml.safe_load(m.group(1)) or {}
                head = f"# {fm.get('title', '')}" + (f"\n\n> {fm['description']}" if fm.get('description') else '')
                cells.append(nbformat.v4.new_markdown_cell(head, metadata={'tags': ['molcryst-title']}))
            continue
        if c.cell_type == 'code':
            d = _directives(c.source)
            if d.get('include') == 'false': continue
            tags = list(c.metadata.get('tags', []))
            if d.get('echo') == 'false': tags.append('remove_input')
            if d.get('output') == 'false': tags.append('remove_output')
            c.metadata['tags'] = tags
            c.source = '\n'.join(l for l in c.source.splitlines() if not _DIRECTIVE.match(l)).strip()
            c.outputs = [o for o in c.get('outputs', []) if not (o.get('output_type') == 'stream' and o.get('name') == 'stderr')]
            for o in c.outputs:                      # show_doc's Pandoc link attributes, which nbconvert's markdown lacks
                md = o.get('data', {}).get('text/markdown')
                if md: o['data']['text/markdown'] = _PANDOC_LINK.sub(r'<a href="\2" \3>\1</a>', ''.join(md) if isinstance(md, list) else md)
            if not c.source and not c.outputs: continue
            if not c.source: c.metadata['tags'].append('remove_input')
        cells.append(c)
    nb.cells = cells
    return nb

def _nav_html(chs:list[dict], current:str, tutorials:list[dict], rendered:set)->str:
    parts, section = ['<nav class="mc-sidebar" aria-label="chapters">',
                      '<a class="mc-brand" href="index.html">molcryst</a>', '<ul>'], None
    for c in chs:
        if c['section'] and c['section'] != section:
            if section is not None: parts.append('</ul></li>')
            section = c['section']
            parts.append(f'<li class="mc-section"><span>{html.escape(section)}</span><ul>')
        cls = ' class="mc-current"' if c['page'] == current else ''
        missing = '' if c['page'] in rendered else ' data-unrendered="1"'
        label = 'Overview' if c['stem'] == 'index' else c['title']
        parts.append(f'<li><a{cls}{missing} href="{c["page"]}" title="{html.escape(c["stem"])}">{html.escape(label)}</a></li>')
    if section is not None: parts.append('</ul></li>')
    if tutorials:
        parts.append('<li class="mc-section"><span>Colab tutorials</span><ul>')
        parts += [f'<li><a class="mc-external" href="{t["url"]}">{html.escape(t["title"])}</a></li>' for t in tutorials]
        parts.append('</ul></li>')
    parts.append('</ul></nav>')
    return '\n'.join(parts)

def _pager_html(chs:list[dict], current:str)->str:
    pages = [c['page'] for c in chs]
    k = pages.index(current)
    prev = f'<a class="mc-prev" href="{chs[k-1]["page"]}">← {html.escape(chs[k-1]["title"])}</a>' if k > 0 else '<span></span>'
    nxt = f'<a class="mc-next" href="{chs[k+1]["page"]}">{html.escape(chs[k+1]["title"])} →</a>' if k + 1 < len(chs) else '<span></span>'
    return f'<nav class="mc-pager">{prev}{nxt}</nav>'

def _doc_host()->str:
    from configparser import ConfigParser
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini', encoding='utf-8')
    d = cfg['DEFAULT']
    return d.get('doc_host', '').rstrip('/') + d.get('doc_baseurl', '').rstrip('/') + '/'

def render_html(proc_nb:Path, dst:Path, ch:dict, chs:list[dict], tutorials:list[dict], rendered:set)->Path:
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    nb = _html_ready(nbformat.read(proc_nb, as_version=4))
    ex = HTMLExporter(template_name='molcryst', extra_template_basedirs=[str(TEMPLATES)],
                      exclude_input_prompt=True, exclude_output_prompt=True)
    ex.register_preprocessor(TagRemovePreprocessor(remove_input_tags={'remove_input'}, remove_all_outputs_tags={'remove_output'},
                                                   remove_cell_tags={'remove_cell'}), enabled=True)
    res = {'molcryst': dict(nav=_nav_html(chs, ch['page'], tutorials, rendered), pager=_pager_html(chs, ch['page']),
                            title=ch['title'], stem=ch['stem']),
           'metadata': {'name': f"{ch['title']} – molcryst"}}
    body, _ = ex.from_notebook_node(nb, resources=res)
    # nbdev's doc links point at the published site; on this site they are the neighbouring pages
    host = _doc_host()
    if host != '/': body = body.replace(f'href="{host}', 'href="')
    pages = {c['path'].name: c['page'] for c in chs}
    body = re.sub(r'href="([\w.-]+\.ipynb)(#[^"]*)?"', lambda m: f'href="{pages.get(m.group(1), m.group(1))}{m.group(2) or ""}"', body)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(body, encoding='utf-8')
    return dst

# ---------------------------------------------------------------------------------------------------- screenshots

def chromium()->str|None:
    return next((shutil.which(b) for b in ('chromium', 'chromium-browser', 'google-chrome', 'chrome') if shutil.which(b)), None)

def screenshot(page:Path, png:Path, size=(1280, 2000), timeout:int=120)->Path:
    "A headless-Chromium PNG of a local page (no network; the page's own fonts and inline images only)."
    exe = chromium()
    if exe is None: raise RuntimeError('no chromium on PATH (Debian: apt-get install chromium)')
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run',
               '--disable-dev-shm-usage', f'--user-data-dir={profile}', '--virtual-time-budget=4000',
               f'--window-size={size[0]},{size[1]}', f'--screenshot={png}', page.resolve().as_uri()]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not png.exists(): raise RuntimeError(f'chromium wrote no screenshot of {page} (exit {r.returncode}): {r.stderr[-2000:]}')
    return png

# ---------------------------------------------------------------------------------------------------- main

def _select(chs:list[dict], names:list[str])->list[dict]:
    if not names: return chs
    by = {}
    for c in chs: by.update({c['stem']: c, c['path'].name: c, c['page']: c, c['page'][:-5]: c})
    unknown = [n for n in names if n not in by]
    if unknown: raise SystemExit(f"unknown notebook(s): {', '.join(unknown)}; known: {', '.join(c['stem'] for c in chs)}")
    want = {by[n]['stem'] for n in names}
    return [c for c in chs if c['stem'] in want]

def _params(items:list[str], chs:list[dict])->dict:
    out = {}
    for it in items or []:
        m = re.match(r'^([^:=]+):([A-Za-z_]\w*)=(.*)$', it)
        if not m: raise SystemExit(f'-p {it!r}: expected NOTEBOOK:NAME=VALUE')
        nb, name, val = m.groups()
        stem = _select(chs, [nb])[0]['stem']
        out.setdefault(stem, {})[name] = yaml.safe_load(val)
    return out

def build(names=(), params:dict|None=None, execute_nbs:bool=False, force:bool=False, html_dir:Path=ROOT / '_docs' / 'html',
          proc_dir:Path=ROOT / '_proc', exec_dir:Path=ROOT / '_docs' / 'executed', work_dir:Path=ROOT / '_docs' / 'work',
          screenshots:Path|None=None, timeout:int=1800, log=print, rerender:bool=False)->dict:
    "Execute, process and render the named notebooks (all when none); returns {stem: html path}."
    chs = chapters()
    todo = _select(chs, list(names))
    tutorials = colab_tutorials()
    params = params or {}
    cwd = os.getcwd()
    try:
        write_nbdev_yml()
        proc_dir.mkdir(parents=True, exist_ok=True)
        for f in QUARTO_FILES:
            if (NBS / f).exists(): shutil.copy2(NBS / f, proc_dir / f)
        (proc_dir / 'sidebar.yml').write_text(sidebar_yml(chs, tutorials), encoding='utf-8')   # current, even if nbs/ is not
        rendered = {c['page'] for c in chs if (html_dir / c['page']).exists()} | {c['page'] for c in todo}
        out, failed = {}, []
        for ch in todo:
            t = time.perf_counter()
            try:
                src = (execute(ch, exec_dir, work_dir, params.get(ch['stem'], {}), force, timeout, log, rerender)
                       if execute_nbs else ch['path'])
                proc = process(src, proc_dir / ch['path'].name, ch['page'], executed=execute_nbs)
                out[ch['stem']] = render_html(proc, html_dir / ch['page'], ch, chs, tutorials, rendered)
                if screenshots is not None: screenshot(out[ch['stem']], screenshots / f"{ch['page'][:-5]}.png")
                log(f"{ch['stem']:>16} -> {out[ch['stem']].relative_to(ROOT) if out[ch['stem']].is_relative_to(ROOT) else out[ch['stem']]} "
                    f"({time.perf_counter() - t:.0f} s)")
            except Exception as e:
                failed.append(ch['stem']); log(f"{ch['stem']:>16} FAILED: {type(e).__name__}: {str(e)[:3000]}")
        if failed: raise RuntimeError(f"{len(failed)} page(s) failed: {', '.join(failed)}")
        return out
    finally:
        os.chdir(cwd)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument('notebooks', nargs='*', help='names (00_core, 10_train.ipynb, training); default: all')
    ap.add_argument('-p', '--param', action='append', default=[], metavar='NB:NAME=VALUE', help='papermill parameter for one notebook')
    ap.add_argument('--execute', action='store_true', help='execute the notebooks first (default: render the outputs stored in them)')
    ap.add_argument('--no-execute', action='store_true', help=argparse.SUPPRESS)   # the default; kept for old command lines
    ap.add_argument('--force', action='store_true', help='with --execute: re-execute even when an executed copy is current')
    ap.add_argument('--rerender', action='store_true', help='render the executed copies in _docs/executed as they are (template changes)')
    ap.add_argument('--out', type=Path, default=ROOT / '_docs' / 'html', help='HTML folder (default _docs/html)')
    ap.add_argument('--proc', type=Path, default=ROOT / '_proc', help='processed notebooks for Quarto (default _proc)')
    ap.add_argument('--work', type=Path, default=ROOT / '_docs' / 'work', help="notebooks' working directory")
    ap.add_argument('--screenshots', type=Path, default=None, help='write a Chromium screenshot of each page here')
    ap.add_argument('--timeout', type=int, default=1800, help='seconds per cell')
    ap.add_argument('--sidebar', action='store_true', help='only write nbs/sidebar.yml')
    ap.add_argument('--check-sidebar', action='store_true', help='exit 1 when nbs/sidebar.yml is out of date')
    a = ap.parse_args(argv)
    if a.check_sidebar:
        ok = (NBS / 'sidebar.yml').exists() and (NBS / 'sidebar.yml').read_text(encoding='utf-8') == sidebar_yml()
        print('nbs/sidebar.yml is up to date' if ok else 'nbs/sidebar.yml is out of date: run python scripts/render_docs.py --sidebar')
        return 0 if ok else 1
    if a.sidebar:
        print(f'wrote {write_sidebar().relative_to(ROOT)}'); return 0
    chs = chapters()
    t = time.perf_counter()
    if a.param and not a.execute: ap.error('-p sets a parameter of an execution: add --execute')
    out = build(a.notebooks, _params(a.param, chs), a.execute or a.rerender, a.force, a.out, a.proc, ROOT / '_docs' / 'executed',
                a.work, a.screenshots, a.timeout, rerender=a.rerender)
    print(f"{len(out)} page(s) in {a.out} ({time.perf_counter() - t:.0f} s); open {a.out / 'index.html'}")
    return 0

if __name__ == '__main__':
    sys.exit(main())
