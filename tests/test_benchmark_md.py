"""benchmarks/md.py: the floor of a batched MD call (its matrix products run alone)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'benchmarks'))


def test_gemm_floor_counts_the_joint_graphs_products_per_replica():
    import md
    from molcryst.calculator import MolcrystCalculator
    from molcryst.md import molecule_atoms
    from molcryst.pretrained import load
    calc = MolcrystCalculator(load('et-ethanol-xtb'), engine='tensor')
    floor = md.gemm_floor(calc, molecule_atoms('ethanol'), 3, threads=1, calls=2, repeats=1)
    (f1, t1), (f3, t3) = floor[1], floor[3]
    assert f1 > 1                                   # ethanol through the 4-layer ET: about 22 MFLOP of products per call
    assert f3 == pytest.approx(3 * f1, rel=0.02)    # products are per atom and per edge: three replicas, three times the work
    assert t1 > 0 and t3 > 0
