"Committed benchmark results: the README's numbers are rendered from benchmarks/reference/*.json, never typed."
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / 'benchmarks'
sys.path.insert(0, str(BENCH))
import report  # noqa: E402


def test_readme_blocks_match_their_result_files():
    names = report.BLOCK.findall((BENCH / 'README.md').read_text())
    assert names, 'benchmarks/README.md has no result blocks'
    assert report.update(check=True) == [], 'stale blocks: run python benchmarks/report.py'


@pytest.mark.parametrize('path', sorted((BENCH / 'reference').glob('*.json')), ids=lambda p: p.name)
def test_result_files_say_where_they_come_from(path):
    d = json.loads(path.read_text())
    for k in ('date', 'commit', 'command', 'machine', 'columns', 'rows'):
        assert d.get(k), f'{path.name}: no {k}'
    assert {'cpu', 'cores', 'threads'} <= set(d['machine']), path.name
    assert d['rows'] and all(set(d['columns']) & set(r) for r in d['rows'])


def test_save_merges_rows_by_key_and_renders(tmp_path, monkeypatch):
    monkeypatch.setattr(report, 'REFERENCE', tmp_path)
    cols = ['model', 'target', 'mae']
    report.save('t', [dict(model='a', target='homo', mae=0.1)], cols, command='x', key=('model', 'target'), extra={'curves': {'a': [1]}})
    report.save('t', [dict(model='b', target='homo', mae=0.2)], cols, command='y', key=('model', 'target'), extra={'curves': {'b': [2]}})
    report.save('t', [dict(model='a', target='homo', mae=0.05)], cols, command='z', key=('model', 'target'))
    d = json.loads((tmp_path / 't.json').read_text())
    assert [(r['model'], r['mae']) for r in d['rows']] == [('b', 0.2), ('a', 0.05)]
    assert d['extra']['curves'] == {'a': [1], 'b': [2]}
    md = report.render('t')
    assert '| model | target | mae |' in md and '| a | homo | 0.05 |' in md and d['machine']['cpu'] in md
    readme = tmp_path / 'README.md'
    readme.write_text('x\n<!-- result:t -->\nold\n<!-- /result:t -->\ny\n')
    assert report.update(readme, check=True) == ['t']
    report.update(readme)
    assert report.update(readme, check=True) == [] and readme.read_text().startswith('x\n<!-- result:t -->\n*From')
