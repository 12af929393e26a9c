"All of QM9 from qm9pack: the count and known values."
import numpy as np
from molcryst.core import HARTREE_TO_EV
from molcryst.datasets import QM9_TARGETS, read_qm9pack


def test_all_molecules_read():
    homo = list(QM9_TARGETS).index('homo')
    n, atoms, first, elements = 0, 0, None, set()
    for r in read_qm9pack():
        if first is None: first = r
        n += 1; atoms += len(r.z)
        if n % 97 == 0: elements.update(r.z.tolist())
    assert n == 130831
    assert first.id == 'qm9-1' and first.z.tolist() == [6, 1, 1, 1, 1]
    np.testing.assert_allclose(first.y[homo], -0.3877 * HARTREE_TO_EV)
    assert elements == {1, 6, 7, 8, 9}
    assert 17 < atoms / n < 19        # ~18 atoms per molecule
