"Neighbour lists against ASE on random cells, including cells much smaller than the cut-off."
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_nl

from molcryst.graphs import build_graph, edge_vectors, to_dense


def random_cell(rng, n, scale):
    cell = np.eye(3) * scale + rng.normal(scale=0.25 * scale, size=(3, 3))
    if np.linalg.det(cell) < 0: cell[0] *= -1
    return Atoms(numbers=rng.integers(1, 30, size=n), scaled_positions=rng.random((n, 3)), cell=cell,
                 pbc=rng.random(3) < 0.7)


@pytest.mark.parametrize('seed', range(12))
def test_random_cells_match_ase(seed):
    rng = np.random.default_rng(seed)
    atoms = random_cell(rng, int(rng.integers(1, 12)), float(rng.uniform(2.0, 7.0)))
    cutoff = float(rng.uniform(2.0, 7.0))
    g = build_graph(atoms, cutoff=cutoff, dtype=torch.float64, min_distance=0)   # random points: pairs of any distance
    j, i = g.edge_index.numpy()
    ai, aj, aS, ad = ase_nl('ijSd', atoms, cutoff)
    ours = sorted(zip(i.tolist(), j.tolist(), map(tuple, g.edge_shift.tolist())))
    theirs = sorted(zip(ai.tolist(), aj.tolist(), map(tuple, aS.tolist())))
    assert ours == theirs
    _, d = edge_vectors(g)
    np.testing.assert_allclose(np.sort(d.numpy()), np.sort(ad), atol=1e-9)


def test_edges_grouped_by_target_and_deterministic():
    rng = np.random.default_rng(0)
    a = random_cell(rng, 10, 5.0)
    g = build_graph(a, cutoff=6.0, dtype=torch.float64, min_distance=0)
    assert torch.all(g.edge_index[1][1:] >= g.edge_index[1][:-1])
    g2 = build_graph(a.copy(), cutoff=6.0, dtype=torch.float64, min_distance=0)
    assert torch.equal(g.edge_index, g2.edge_index) and torch.equal(g.edge_shift, g2.edge_shift)


def test_max_neighbors_keeps_nearest_sorted():
    rng = np.random.default_rng(1)
    a = random_cell(rng, 10, 5.0)
    full = build_graph(a, cutoff=6.0, dtype=torch.float64, min_distance=0)
    g = build_graph(a, cutoff=6.0, max_neighbors=5, dtype=torch.float64, min_distance=0)
    _, d = edge_vectors(g); _, dfull = edge_vectors(full)
    dst = g.edge_index[1]
    assert torch.all(dst[1:] >= dst[:-1])
    same = dst[1:] == dst[:-1]
    assert torch.all(d[1:][same] >= d[:-1][same] - 1e-12)
    for k in range(len(a)):
        mine = d[dst == k].numpy()
        ref = np.sort(dfull[full.edge_index[1] == k].numpy())[:5]
        np.testing.assert_allclose(mine, ref, atol=1e-12)


def test_forces_flow_through_edge_vectors():
    "Distances are differentiable in positions and cell: the basis of autograd forces and stress."
    from ase.build import bulk
    g = build_graph(bulk('Si', 'diamond', a=5.43), cutoff=4.0, dtype=torch.float64)
    g.pos.requires_grad_(True); g.cell.requires_grad_(True)
    _, d = edge_vectors(g)
    e = (d ** -6).sum()
    fpos, fcell = torch.autograd.grad(e, (g.pos, g.cell))
    np.testing.assert_allclose(fpos.sum(0).numpy(), 0, atol=1e-10)       # no net force on a perfect crystal
    assert fcell.abs().sum() > 0


def test_dense_matches_list_nearest():
    rng = np.random.default_rng(3)
    a = random_cell(rng, 8, 6.0); a.pbc = True
    g = build_graph(a, cutoff=8.0, dtype=torch.float64)
    dn = to_dense(g, 12)
    _, d = edge_vectors(g)
    for k in range(len(a)):
        mine = np.sort(d[g.edge_index[1] == k].numpy())[:12]
        np.testing.assert_allclose(dn.distance[k][dn.mask[k]].numpy(), mine, atol=1e-9)
