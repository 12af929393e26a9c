"Checks of molcryst.md17 too slow or too broad for the notebook: the whole shipped files, the generator's determinism, the cache."
import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.data import atomic_masses

from molcryst.core import ConfigError, DataError
from molcryst.datasets import DATASETS, load_dataset
from molcryst.md17 import SHIPPED, MD17, generate_xtb_trajectory, read_md17_npz


def xtb(z, pos):
    from tblite.ase import TBLite
    a = Atoms(numbers=z, positions=np.asarray(pos, np.float64))
    a.calc = TBLite(method='GFN2-xTB', verbosity=0, accuracy=0.01)
    return a.get_potential_energy(), a.get_forces()


@pytest.mark.parametrize('name,natoms', [('ethanol', 9), ('uracil', 12)])
def test_shipped_file(name, natoms):
    p = SHIPPED[name]
    assert p.stat().st_size <= 1.5e6
    with np.load(p, allow_pickle=False) as d:
        assert str(d['theory']) == 'GFN2-xTB' and str(d['energy_unit']) == 'eV'
        assert d['R'].shape == d['F'].shape == (2000, natoms, 3) and d['E'].shape == (2000, 1)
        assert d['R'].dtype == d['F'].dtype == np.float32 and d['E'].dtype == np.float64
        R, F, E, z = d['R'], d['F'], d['E'], d['z']
    assert np.isfinite(R).all() and np.isfinite(F).all() and np.isfinite(E).all()
    assert np.abs(F.sum(1)).max() < 1e-3                     # no net force on any frame
    m = atomic_masses[z][None, :, None]
    com = (m * R).sum(1) / m.sum()
    assert np.abs(com - com[0]).max() < 1e-3                 # centre of mass fixed (FixCom)
    d = np.linalg.norm(R[:, :, None] - R[:, None], axis=-1) + 10 * np.eye(natoms)
    assert 0.85 < d.min() and (d.min(2) < 1.6).all()          # no atom too close, none flies off


@pytest.mark.parametrize('name', ['ethanol', 'uracil'])
def test_shipped_labels_are_tblite(name):
    "Energies and forces of a few frames equal a fresh GFN2-xTB single point on the stored geometry."
    for r in read_md17_npz(SHIPPED[name], stride=700):
        e, f = xtb(r.z, r.pos)
        assert abs(e - r.y[0]) < 1e-4
        np.testing.assert_allclose(r.forces, f, atol=2e-3)


def test_generator_is_deterministic(tmp_path):
    kw = dict(n_frames=3, every=2, progress=False)
    a = generate_xtb_trajectory(molecule('H2O'), tmp_path / 'a.npz', seed=3, **kw)
    b = generate_xtb_trajectory(molecule('H2O'), tmp_path / 'b.npz', seed=3, **kw)
    c = generate_xtb_trajectory(molecule('H2O'), tmp_path / 'c.npz', seed=4, **kw)
    with np.load(a) as da, np.load(b) as db, np.load(c) as dc:
        for k in ('z', 'R', 'E', 'F'): np.testing.assert_array_equal(da[k], db[k])
        assert not np.array_equal(da['R'], dc['R'])
        assert int(da['seed']) == 3 and int(da['every']) == 2


def test_generator_rejects_bad_input(tmp_path):
    out = tmp_path / 'x.npz'
    with pytest.raises(ConfigError, match='n_frames'): generate_xtb_trajectory(molecule('H2O'), out, n_frames=0)
    crystal = Atoms('H2', positions=[[0, 0, 0], [0, 0, 0.74]], cell=[3, 3, 3], pbc=True)
    with pytest.raises(ConfigError, match='molecules'): generate_xtb_trajectory(crystal, out, n_frames=1)
    assert not out.exists()


def test_reader_variants(tmp_path):
    "E as [F], theory stored as bytes, integer dtypes other than int64."
    p = tmp_path / 'v.npz'
    np.savez(p, z=np.array([1, 1], np.uint8), R=np.zeros((2, 2, 3)) + [[0, 0, 0], [0, 0, 0.74]],
             E=np.array([-1.0, -2.0]), F=np.zeros((2, 2, 3)), theory=np.array(b'GFN2-xTB'))
    recs = list(read_md17_npz(p))
    assert [r.y[0] for r in recs] == [-1.0, -2.0] and recs[0].z.dtype == np.int64
    np.savez(p, z=np.array([1.0, 1.0]), R=np.zeros((1, 2, 3)), E=np.zeros(1), F=np.zeros((1, 2, 3)))
    with pytest.raises(DataError, match='z: dtype float64, expected integers'): read_md17_npz(p)


def test_dataset_cache_and_registry():
    assert DATASETS['md17'] is MD17
    a = MD17('ethanol', limit=50, progress=False)
    mtime = a.path.stat().st_mtime_ns
    b = load_dataset('md17', source='ethanol', limit=50, progress=False)
    assert b.path == a.path and a.path.stat().st_mtime_ns == mtime      # read from the cache, not rebuilt
    c = MD17('ethanol', limit=50, stride=2, progress=False)
    assert c.path != a.path and c.ids[1] == 'md17_ethanol_xtb-2'
    assert float((a.y[:, 0] - b.y[:, 0]).abs().max()) == 0
