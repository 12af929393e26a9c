"The graph cache: keyed by source and options, atomic, corrupt files rebuilt, interrupted builds leave nothing."
import numpy as np
import pytest
import torch

from molcryst.core import cache_dir
from molcryst.datasets import QM9, Record, make_dataset


def test_cache_hit_and_options_key():
    a = QM9(limit=30, progress=False)
    mtime = a.path.stat().st_mtime_ns
    b = QM9(limit=30, progress=False)
    assert b.path == a.path and b.path.stat().st_mtime_ns == mtime      # loaded, not rebuilt
    c = QM9(limit=30, cutoff=4.0, progress=False)
    assert c.path != a.path                                               # other options, other file
    assert c.num_edges.sum() < a.num_edges.sum()


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'empty', 'foreign'])
def test_corrupt_cache_is_rebuilt(damage, caplog):
    a = QM9(limit=20, progress=False)
    ref = [a[i].edge_index.clone() for i in range(len(a))]
    if damage == 'truncate': a.path.write_bytes(a.path.read_bytes()[: a.path.stat().st_size // 2])
    elif damage == 'garbage': a.path.write_bytes(b'not a torch file' * 10)
    elif damage == 'empty': a.path.write_bytes(b'')
    else:
        other = QM9(limit=10, progress=False)
        a.path.write_bytes(other.path.read_bytes())
    b = QM9(limit=20, progress=False)
    assert len(b) == 20 and all(torch.equal(b[i].edge_index, r) for i, r in enumerate(ref))
    assert 'rebuilding' in caplog.text


def test_interrupted_build_leaves_nothing():
    def records():
        for k in range(5):
            if k == 3: raise KeyboardInterrupt('killed mid-build')
            yield Record(str(k), np.array([1, 1]), np.array([[0, 0, 0], [0, 0, 0.74]]), np.array([1.0]))
    with pytest.raises(KeyboardInterrupt):
        make_dataset('interrupted', records, ['e'], source=['t'], progress=False)
    assert list(cache_dir('interrupted').iterdir()) == []


def test_cache_is_loaded_with_weights_only(monkeypatch):
    "The cache file holds tensors and plain containers only: it loads with weights_only=True."
    a = QM9(limit=5, progress=False)
    store = torch.load(a.path, weights_only=True)
    assert store['key'] and len(store['ids']) == 5


def test_malicious_cache_is_not_executed(tmp_path):
    "A pickle payload in place of the cache is refused (weights_only) and rebuilt, never run."
    import pickle, os
    a = QM9(limit=5, progress=False)
    flag = tmp_path / 'pwned'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {flag}',))
    with open(a.path, 'wb') as f: pickle.dump(Evil(), f)
    b = QM9(limit=5, progress=False)
    assert len(b) == 5 and not flag.exists()
