"benchmarks/models.py parts 7 and 8: the operator cost model of the roofline, the speed-up table, and a tiny real run of each."
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / 'benchmarks'
sys.path.insert(0, str(BENCH))
import models  # noqa: E402


def test_operator_costs():
    c = models._op_cost
    assert c('aten::mm', [[10, 20], [20, 30]]) == ('mm', 2.0 * 10 * 20 * 30)
    assert c('aten::addmm', [[30], [10, 20], [20, 30], [], []]) == ('mm', 2.0 * 10 * 20 * 30)
    assert c('aten::bmm', [[4, 10, 20], [4, 20, 30]]) == ('mm', 2.0 * 4 * 10 * 20 * 30)
    assert c('aten::linear', [[5, 7, 8], [16, 8], [16]]) == ('mm', 2.0 * 35 * 8 * 16)
    # a gather: the index's rows of the source, read and written; an out= buffer is not the index
    assert c('aten::index_select', [[345, 128], [], [1762]]) == ('gather', 4.0 * (2 * 1762 * 128 + 1762))
    assert c('aten::index_select', [[345, 128], [], [1762], [1762, 128]]) == c('aten::index_select', [[345, 128], [], [1762]])
    assert c('aten::add', [[100, 8], [100, 8], []]) == ('memory', 4.0 * (800 + 800 + 800))   # two in, one out
    assert c('aten::sum', [[100, 8], [], [], []]) == ('memory', 4.0 * 800)                    # a reduction writes ~nothing
    assert c('aten::view', [[100, 8], []])[0] == 'free' and c('aten::t', [[3, 4]])[0] == 'free'
    assert c('aten::cat', [[], []]) == ('unknown', 0.0)                                       # list inputs: not recorded


def _run(n, epoch_s, warm=1.0, compiled=False):
    return dict(n=n, epoch_s=epoch_s, warmup_s=warm, collate='GraphCollater', allocator_tuned=True, fused_optimizer=True,
                compiled=compiled, compile_s=10.0 if compiled else None)


def test_speedup_rows_take_medians_and_mark_the_goal():
    r = dict(baseline_rev='abc1234', runs={
        'physnet': {'baseline': [_run(1000, [4.0]), _run(1000, [5.0]), _run(1000, [4.0])],
                    'molcryst': [_run(1000, [3.0]), _run(1000, [3.0]), _run(1000, [2.9])],
                    'compiled': [_run(1000, [2.5], compiled=True)] * 3},
        'schnet': {'baseline': [_run(1000, [2.0])], 'molcryst': [_run(1000, [1.0])]}})
    rows = {x['backbone']: x for x in models.speedup_rows(r)}
    p = rows['physnet']
    assert p['baseline'] == 250.0 and p['molcryst'] == round(1000 / 3.0, 1) and p['speedup'] == '1.33×'
    assert p['compiled'] == 400.0 and p['compiled_speedup'] == '1.60×' and p['goal'] == '✅'    # met only compiled
    assert p['compile_s'] == 11.0 and p['rounds'].count(':') == 3
    assert rows['schnet']['compiled'] is None and rows['schnet']['goal'].startswith('—')       # its goal is part 6


def test_roofline_rows_use_the_better_of_eager_and_compiled():
    k = dict(mm=dict(measured_s=0.6, least_s=0.3, calls=1, amount=3e9), memory=dict(measured_s=0.4, least_s=0.1, calls=1, amount=1e9))
    res = [dict(name='schnet', n=1000, measured_s=1.0, compiled_s=0.6, least_s=0.45, mm_only_s=0.3, profiled_op_s=1.0, kinds=k)]
    row = models.roofline_rows(res)[0]
    assert row['of_ceiling'] == '45%' and row['compiled_of_ceiling'] == '75%' and row['goal'] == '✅'
    assert row['mm_share'] == '60%' and row['mm_gflops'] == 5.0 and row['memory_of_least'] == '25%'
    res[0]['compiled_s'] = None
    assert models.roofline_rows(res)[0]['goal'] == '❌'


def test_part8_runs_on_a_few_molecules(tmp_path, monkeypatch):
    "The whole part, end to end, on 40 molecules and CGCNN without the compiled passes: a table with a finite ceiling."
    monkeypatch.setattr(models.OtherCPU, '_busy', staticmethod(lambda: None))
    models.main(['--parts', '8', '--n-qm9', '40', '--backbones', 'cgcnn', '--no-roof-compile', '--out', str(tmp_path / 'm.md')])
    text = (tmp_path / 'm.md').read_text()
    assert '## Training step against its ceiling' in text
    line = next(l for l in text.splitlines() if l.startswith('| `cgcnn`'))
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert float(cells[1]) > 0 and float(cells[2]) > float(cells[1])      # the ceiling is above what the step reaches
