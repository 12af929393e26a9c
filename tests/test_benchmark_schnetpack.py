"benchmarks/models.py part 6 (SchNet vs schnetpack 2.2): skipped cleanly without schnetpack; the same model with it."
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / 'benchmarks'
sys.path.insert(0, str(BENCH))
import models  # noqa: E402


def test_part6_is_skipped_with_a_message_without_schnetpack(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(models, '_spk_version', lambda: None)
    monkeypatch.setattr(models.OtherCPU, '_busy', staticmethod(lambda: None))
    models.main(['--parts', '6', '--n-qm9', '20', '--out', str(tmp_path / 'm.md')])
    out = capsys.readouterr().out
    assert 'Part 6: skipped: schnetpack is not importable' in out
    assert '## SchNet vs schnetpack' not in (tmp_path / 'm.md').read_text()


def test_schnetpack_schnet_with_molcryst_weights_gives_the_same_outputs_and_gradients(tmp_path):
    if models._spk_version() is None: pytest.skip('schnetpack is not installed (not a molcryst requirement)')
    from types import SimpleNamespace
    from molcryst.datasets import QM9
    ds = QM9('homo', limit=40, cutoff=5.0, progress=False, root=tmp_path)
    ag = models._spk_agreement(ds, SimpleNamespace(batch_size=16))
    assert ag['edges'] == ag['edges_spk'] > 0
    assert ag['outputs'] < 1e-5 and ag['gradients'] < 1e-5, ag
