"""The graph cache: keyed by source and options, atomic, corrupt files rebuilt, interrupted builds leave nothing; an unpacked data folder
another process finished is kept, not replaced under it; a cache moved by a notebook or test is put back."""
import itertools, os

import numpy as np
import pytest
import torch

import molcryst.mofs as mofs
from molcryst.core import cache_dir, use_cache
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


def _first(n, hook=None):
    "A stand-in for tqdm that yields the tarball's first `n` members (a quick unpack), calling `hook` before the first."
    def fake(it, **kw):
        if hook is not None: hook()
        return itertools.islice(it, n)
    return fake


def test_coremof_unpacked_by_another_process_meanwhile_is_kept(monkeypatch):
    out = cache_dir('coremof') / '2019-ASR'
    def other():                                            # another process completes the folder while this one unpacks
        out.mkdir(parents=True); (out / 'theirs.cif').write_text('x'); (out / '.complete').touch()
    monkeypatch.setattr(mofs, 'tqdm', _first(5, other))
    assert mofs.coremof_dir(progress=False) == out
    assert (out / 'theirs.cif').exists() and (out / '.complete').exists()    # theirs, which may be in use, untouched
    assert [p.name for p in out.parent.iterdir() if p.name.startswith('.')] == []   # no temporary folder left


def test_coremof_incomplete_folder_is_replaced(monkeypatch):
    out = cache_dir('coremof') / '2019-ASR'
    out.mkdir(parents=True); (out / 'half.cif').write_text('x')          # no .complete: an older or broken unpack
    monkeypatch.setattr(mofs, 'tqdm', _first(5))
    assert mofs.coremof_dir(progress=False) == out
    names = sorted(p.name for p in out.iterdir())
    assert '.complete' in names and 'half.cif' not in names and len(names) == 6
    assert [p.name for p in out.parent.iterdir() if p.name.startswith('.')] == []


def test_use_cache_hands_back_the_previous_value(tmp_path):
    before = os.environ.get('MOLCRYST_CACHE')
    old = use_cache(tmp_path / 'a')
    assert old == before and cache_dir() == tmp_path / 'a'
    assert use_cache(None) == str(tmp_path / 'a') and 'MOLCRYST_CACHE' not in os.environ
    assert use_cache(old) is None and os.environ.get('MOLCRYST_CACHE') == before
