"""The docs site: nbs/sidebar.yml lists every notebook once in chapter order; the index, training-study,
explanation-study and an API page are processed by nbdev from their stored outputs and rendered to HTML by
scripts/render_docs.py (as `make html` does), then opened in headless Chromium (screenshots) and checked for figures,
tables and navigation. One API page is also executed first (`--execute`), the way `make html EXECUTE=1` does, with
the environment's molcryst cache (as nbdev_test does; in CI `.ci/run` points it into the checkout)."""
import os, re, shutil, sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
import render_docs  # noqa: E402

CHAPTERS = render_docs.chapters()
STEMS = [c['stem'] for c in CHAPTERS]


def test_sidebar_is_current_and_in_chapter_order():
    assert render_docs.main(['--check-sidebar']) == 0, 'run: python scripts/render_docs.py --sidebar'
    side = yaml.safe_load((ROOT / 'nbs' / 'sidebar.yml').read_text())['website']['sidebar']['contents']
    listed = [x for item in side for x in ([item] if isinstance(item, str) else item['contents']) if isinstance(x, str)]
    assert sorted(listed) == sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb')), 'every notebook once'
    assert listed[0] == 'index.ipynb'
    nums = [int(re.match(r'\d+', s).group()) for s in listed[1:]]
    assert nums == sorted(nums), 'chapter numbers in order'
    for a, b in zip(listed[1:], listed[2:]):     # within a chapter number, API chapters come before the study
        if re.match(r'\d+', a).group() == re.match(r'\d+', b).group():
            assert not (not render_docs._is_api(ROOT / 'nbs' / a) and render_docs._is_api(ROOT / 'nbs' / b)), (a, b)
    sections = [item['section'] for item in side if isinstance(item, dict)]
    assert sections[:3] == ['Data', 'Models', 'Training'] and sections[-1] == 'Colab tutorials'


def test_quarto_config_for_nbdev():
    q = yaml.safe_load((ROOT / 'nbs' / '_quarto.yml').read_text())
    assert q['project']['type'] == 'website' and {'nbdev.yml', 'sidebar.yml'} <= set(q['metadata-files'])
    assert (ROOT / 'nbs' / q['format']['html']['css']).exists()
    assert not (ROOT / '_quarto.yml').exists(), 'nbdev reads nbs/_quarto.yml; a second one at the root would be ignored'


def test_page_names_are_unique_and_nbdev_doc_links_resolve():
    pages = [c['page'] for c in CHAPTERS]
    assert len(pages) == len(set(pages))
    from nbdev.doclinks import _nbpath2html
    for c in CHAPTERS:
        if c['api']: assert c['page'] == _nbpath2html(c['path']).name, c['stem']   # where nbdev's links point
    from molcryst._modidx import d
    linked = {v[0].split('#')[0] for mod in d['syms'].values() for v in mod.values()}
    assert linked <= set(pages), f'doc links to pages that do not exist: {linked - set(pages)}'


def test_no_committed_notebook_carries_injected_parameters():
    """A notebook stored with the outputs of a reference run keeps its parameters cell at the defaults: nbdev_test
    (CI) runs every code cell, so a papermill-injected cell would run the reference scale (hours) in CI."""
    import json
    for p in sorted([*(ROOT / 'nbs').glob('*.ipynb'), *(ROOT / 'colab').glob('*.ipynb')]):
        cells = json.loads(p.read_text())['cells']
        tagged = [i for i, c in enumerate(cells) if 'injected-parameters' in c.get('metadata', {}).get('tags', [])]
        assert not tagged, f'{p.name}: cell {tagged[0]} is papermill\'s injected parameters; drop it when storing outputs'


def test_every_parameter_is_one_papermill_can_set():
    """papermill reads a parameters cell line by line (`name = value  # comment`); a line it cannot parse (a comment
    holding '=' or '<=', say) is dropped from `papermill --help-notebook` and warned about as an unknown parameter when
    set. Every top-level assignment of every study's and tutorial's parameters cell must be one it finds, unless its
    value itself holds '=' or '#' (a SMILES string: papermill cannot read those, but still injects them when set)."""
    import ast
    import nbformat
    from papermill.translators import PythonTranslator
    for p in sorted([*(ROOT / 'nbs').glob('*.ipynb'), *(ROOT / 'colab').glob('*.ipynb')]):
        cells = [c for c in nbformat.read(p, as_version=4).cells if 'parameters' in c.metadata.get('tags', [])]
        if not cells: continue
        src = cells[0].source
        assigned = [t.id for n in ast.parse(src).body if isinstance(n, ast.Assign)
                    and not set('=#') & set(ast.get_source_segment(src, n.value)) for t in n.targets if isinstance(t, ast.Name)]
        missing = set(assigned) - {q.name for q in PythonTranslator.inspect(cells[0])}
        assert not missing, f'{p.name}: papermill does not see {sorted(missing)} in the parameters cell (a comment with = or #?)'


def _chromium_or_skip():
    if render_docs.chromium() is None:
        pytest.skip('no chromium on PATH (Debian: apt-get install chromium; scripts/test.sh installs it when run as root)')


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    names = ['index', '10g_pretrained', '10_train'] + (['30_explain'] if '30_explain' in STEMS else [])
    tmp = tmp_path_factory.mktemp('docs')
    out = render_docs.build(names, html_dir=tmp / 'html', proc_dir=tmp / 'proc', exec_dir=tmp / 'executed',
                            work_dir=tmp / 'work', log=lambda *a: None)
    assert not (tmp / 'executed').exists(), 'the default renders what is stored: nothing executed'
    return tmp, out


def test_execute_option_runs_the_notebook(tmp_path):
    "`--execute` runs the page under papermill (with nbdev's show_doc cells) before rendering it."
    pytest.importorskip('papermill')
    out = render_docs.build(['10g_pretrained'], execute_nbs=True, html_dir=tmp_path / 'html', proc_dir=tmp_path / 'proc',
                            exec_dir=tmp_path / 'executed', work_dir=tmp_path / 'work', log=lambda *a: None)
    assert (tmp_path / 'executed' / '10g_pretrained.ipynb').exists()
    html = out['10g_pretrained'].read_text()
    assert re.search(r'<h3[^>]*>load', html) and 'Details' in html


def test_study_notebooks_carry_their_outputs():
    "Every study (a notebook with a parameters cell) is stored with the outputs of its reference run: the docs show them."
    import json
    for p in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')):
        cells = json.loads(p.read_text())['cells']
        if not any('parameters' in c.get('metadata', {}).get('tags', []) for c in cells): continue
        code = [c for c in cells if c['cell_type'] == 'code']
        assert sum(bool(c.get('outputs')) for c in code) >= len(code) // 3, f'{p.name}: stored without its outputs'
        figs = sum('image/png' in o.get('data', {}) for c in code for o in c.get('outputs', []))
        assert figs >= 1, f'{p.name}: no figure among its stored outputs'
        assert not any(o.get('name') == 'stderr' and o.get('text') for c in code for o in c.get('outputs', [])), \
            f'{p.name}: stderr (warnings, progress bars) in the stored outputs'



def _html(site, stem):
    if stem not in site[1]: pytest.skip(f'nbs/{stem}.ipynb does not exist yet')
    return site[1][stem].read_text()


def _check_nav(html, page):
    for c in CHAPTERS:                                            # a link to every chapter, in the sidebar
        assert f'href="{c["page"]}"' in html, f'{page}: no link to {c["page"]}'
    assert re.search(rf'<a class="mc-current"[^>]*href="{re.escape(page)}"', html), 'the current page is marked'
    assert 'class="mc-pager"' in html
    assert not re.search(r'#\|\s*(hide|export|default_exp)', html), 'nbdev directives never reach the page'


def _images(html): return re.findall(r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/=]{2000,}', html)


def test_index_page(site):
    html = _html(site, 'index')
    _check_nav(html, 'index.html')
    text = re.sub(r'<[^>]+>', '', html)                           # without the syntax highlighting's spans
    assert 'bash scripts/main.sh' in text and 'bash scripts/test.sh' in text
    assert html.count('<table') >= 3, 'the backbone table, "What works today" and "Where things are"'
    assert "os.environ.setdefault('MOLCRYST_CACHE'" not in html, 'the hidden cell stays hidden'
    assert 'GraphDataset(qm9: 1000 structures' in html, 'executed: the 30-second example shows its output'


def test_api_page_has_signature_tables(site):
    html = _html(site, '10g_pretrained')
    _check_nav(html, 'pretrained.html')
    assert re.search(r'<h3[^>]*>load', html) and 'Details' in html, 'show_doc tables of the exported functions'
    assert '{target="_blank"' not in html, "Quarto's link attributes are turned into HTML"


def test_training_page(site):
    html = _html(site, '10_train')
    _check_nav(html, 'train.html')
    assert len(_images(html)) >= 1, 'learning curves and parity plot'
    assert '<table' in html and 'MAE' in html, 'metrics table'
    assert re.search(r'<h1[^>]*>Training study', html)


def test_explanation_page(site):
    html = _html(site, '30_explain')
    page = next(c['page'] for c in CHAPTERS if c['stem'] == '30_explain')
    _check_nav(html, page)
    assert len(_images(html)) >= 2, 'Grad-CAM drawings, UMAP, ROGI figure'
    assert html.count('<table') >= 2


@pytest.mark.parametrize('stem', ['index', '10_train', '30_explain'])
def test_screenshot(site, stem):
    _chromium_or_skip()
    if stem not in site[1]: pytest.skip(f'nbs/{stem}.ipynb does not exist yet')
    import numpy as np
    from PIL import Image
    png = render_docs.screenshot(site[1][stem], site[0] / 'screenshots' / f'{stem}.png', size=(1280, 2000))
    keep = os.environ.get('MOLCRYST_DOCS_SCREENSHOTS')            # a folder to keep them in, for a person to look at
    if keep: Path(keep).mkdir(parents=True, exist_ok=True); shutil.copy(png, Path(keep) / png.name)
    im = Image.open(png).convert('RGB')
    assert im.size == (1280, 2000)
    a = np.asarray(im).astype(int)
    side, content = a[60:, :260], a[:, 300:]   # the sidebar below its title (the logo is in the accent colour too), all of it:
                                               # the current page can sit low in a long list
    accent = (np.abs(side - [44, 111, 187]).max(-1) < 12).sum()
    assert accent > 500, 'the sidebar is drawn, with the current page highlighted'
    ink = (content.sum(-1) < 600).mean()
    assert ink > 0.01, f'the content area has text and figures ({ink:.3%} dark pixels)'


def test_a_study_shows_the_command_of_its_stored_outputs():
    """A study stored from a reference run says, in its first cell, the command that makes those outputs again; the
    run's own line (`scripts/run_study.py` writes it) names the command that did. The two must be the same command: a
    study rerun at another scale with its text left behind would tell the reader the wrong scale."""
    import nbformat
    for p in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')):
        first = nbformat.read(p, as_version=4).cells[0].source
        ran = re.search(r'`(python scripts/run_study\.py [^`]+)` makes them again', first)
        if not ran: continue
        shown = first[:ran.start()]
        norm = lambda s: ' '.join(s.split())
        assert norm(ran.group(1)) in norm(shown.replace('\\\n', ' ')), \
            f'{p.name}: its stored outputs come from `{ran.group(1)}`, which its first cell does not show'


def test_tidy_keeps_one_block_per_stream():
    "Stored outputs: consecutive prints are one stdout block (a training loop's lines are not one output each); stderr is dropped."
    import nbformat
    sys.path.insert(0, str(ROOT / 'scripts'))
    from execute_tutorials import tidy
    st = lambda name, text: nbformat.v4.new_output('stream', name=name, text=text)
    cell = nbformat.v4.new_code_cell('x', outputs=[st('stdout', 'a\n'), st('stderr', 'warn\n'), st('stdout', 'b\n'),
                                                 nbformat.v4.new_output('display_data', data={'text/plain': 'fig'}), st('stdout', 'c\n')])
    nb = tidy(nbformat.v4.new_notebook(cells=[cell]))
    outs = nb.cells[0].outputs
    assert [o.output_type for o in outs] == ['stream', 'display_data', 'stream']
    assert outs[0].text == 'a\nb\n' and outs[2].text == 'c\n'
