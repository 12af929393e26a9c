"Physics tests for every backbone: invariances, supercells, forces = -dE/dx, and learning on real QM9 data."
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from torch_geometric.data import Batch

from molcryst.core import ConfigError
from molcryst.graphs import build_graph
from molcryst.models import BACKBONES, EnergyForces, get_model
from molcryst.models.layers import energy_forces, fd_forces, random_rotation, transform_graph

SMALL = {
    'cgcnn': dict(atom_fea_len=16, h_fea_len=32, n_conv=2),
    'cgcnn_dense': dict(atom_fea_len=16, h_fea_len=32, n_conv=2),
    'schnet': dict(hidden_channels=32, num_filters=32, num_interactions=2, num_rbf=16, cutoff=5.0),
    'physnet': dict(hidden_channels=32, num_rbf=16, num_modules=2, cutoff=5.0),
    'mpnn': dict(hidden_channels=16, edge_hidden=32, num_rbf=16),
    'mpnn_transformer': dict(hidden_channels=16, edge_hidden=32, num_rbf=16, num_heads=2),
    'torchmdnet': dict(embedding_dimension=32, num_layers=2, num_rbf=16, num_heads=4),
    'tensornet': dict(hidden_channels=16, num_layers=1, num_rbf=16, cutoff=5.0),
}
NAMES = list(BACKBONES)


def small(name, **kw):
    torch.manual_seed(0)
    m = get_model(name, **{**SMALL[name], **kw}).double().eval()
    for p in m.parameters():          # PhysNet starts at exactly zero output: make tests non-trivial
        if p.dim() >= 1 and p.abs().sum() == 0: torch.nn.init.normal_(p, std=0.1)
    return m


def sige():
    "A rattled SiGe cell: two elements, no symmetric ties, cell wider than the 5 Å cut-off."
    a = bulk('Si', 'diamond', a=5.43, cubic=True)
    a.numbers[::2] = 32
    a.rattle(0.05, seed=3)
    return a


def structures():
    eth = molecule('CH3CH2OH'); eth.rattle(0.02, seed=1)
    return {'molecule': build_graph(eth, 5.0, dtype=torch.float64), 'crystal': build_graph(sige(), 5.0, dtype=torch.float64)}


def test_registry_and_imports():
    from molcryst.models import CGCNN, SchNet, PhysNet, MPNN, MPNNTransformer, TorchMDNet, TensorNet  # noqa: F401
    assert set(NAMES) == set(SMALL)
    with pytest.raises(ConfigError, match="unknown backbone 'gin'; valid backbones: cgcnn"):
        get_model('gin')


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('kind', ['molecule', 'crystal'])
def test_invariance(name, kind):
    m = small(name)
    g = structures()[kind]
    perm = torch.randperm(g.num_nodes, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = m(g)
        for h in (transform_graph(g, rotation=random_rotation(2)),
                  transform_graph(g, translation=torch.tensor([3.0, -1.5, 0.7])),
                  transform_graph(g, permutation=perm)):
            torch.testing.assert_close(m(h), ref, rtol=1e-9, atol=1e-9)
        h, hg = m.embed(transform_graph(g, permutation=perm))
        _, rg = m.embed(g)
        torch.testing.assert_close(hg, rg, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('name', NAMES)
def test_supercell(name):
    m = small(name)
    a = sige()
    g1 = build_graph(a, 5.0, dtype=torch.float64)
    g8 = build_graph(a.repeat((2, 2, 2)), 5.0, dtype=torch.float64)
    with torch.no_grad():
        y1, y8 = m(g1), m(g8)
        h1, _ = m.embed(g1); h8, _ = m.embed(g8)
    torch.testing.assert_close(h8, h1.repeat(8, 1), rtol=1e-8, atol=1e-8)      # same per-atom features
    factor = 8.0 if m.readout == 'sum' else 1.0                                  # extensive vs intensive
    torch.testing.assert_close(y8, factor * y1, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('kind', ['molecule', 'crystal'])
def test_forces_are_minus_energy_gradient(name, kind):
    m = small(name, readout='sum')
    ef = EnergyForces(m).eval()
    g = structures()[kind]
    _, f = ef(g.clone())
    atoms = [0, 1, 4, g.num_nodes - 1]                  # a C, an O or Si/Ge, an H, the last atom
    with torch.no_grad():
        f_fd = fd_forces(lambda x: m(x)[:, 0], g, eps=1e-5, atoms=atoms)
    torch.testing.assert_close(f.detach()[atoms], f_fd[atoms], rtol=1e-5, atol=1e-7)
    assert f.abs().max() > 1e-6


@pytest.fixture(scope='module')
def qm9_64(tmp_path_factory):
    from molcryst.datasets import QM9
    with pytest.MonkeyPatch.context() as mp:           # the module's cache, not left set for the modules after it
        mp.setenv('MOLCRYST_CACHE', str(tmp_path_factory.mktemp('qm9cache')))
        ds = QM9('homo', limit=64, progress=False)
    b = Batch.from_data_list([ds[i] for i in range(len(ds))])
    y = ((b.y - b.y.mean()) / b.y.std()).float()
    return b, y


@pytest.mark.parametrize('name', NAMES)
def test_learns_on_64_qm9_molecules(name, qm9_64):
    "Gradients flow: 64 real molecules, full batch, the training loss drops 10× in a fixed number of steps."
    b, y = qm9_64
    torch.manual_seed(0)
    m = get_model(name, **SMALL[name], readout='mean' if name not in ('mpnn', 'mpnn_transformer') else 'set2set')
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    losses = []
    for step in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(m(b), y)
        loss.backward(); opt.step()
        losses.append(loss.item())
    first, last = losses[0], min(losses[-10:])
    assert last < first / 10, f'{name}: loss {first:.3f} -> {last:.3f}'


VOLUME = ['cgcnn', 'cgcnn_dense', 'schnet']


@pytest.mark.parametrize('name', VOLUME)
def test_volume_readout(name):
    "readout='volume': b + Σ_i head(h_i)·10 Å³/V; invariant, intensive under a supercell, refused for a molecule."
    from molcryst.core import DataError
    m = small(name, readout='volume')
    with torch.no_grad(): m.volume_bias.fill_(0.3)
    a = sige()
    g1 = build_graph(a, 5.0, dtype=torch.float64)
    with torch.no_grad():
        y1 = m(g1)
        h, _ = m.embed(g1)
        torch.testing.assert_close(y1, 0.3 + m.head(h).sum(0, keepdim=True) * 10.0 / a.cell.volume, rtol=1e-10, atol=1e-10)
        y8 = m(build_graph(a.repeat((2, 2, 2)), 5.0, dtype=torch.float64))
        torch.testing.assert_close(y8, y1, rtol=1e-8, atol=1e-8)
        torch.testing.assert_close(m(transform_graph(g1, rotation=random_rotation(4))), y1, rtol=1e-9, atol=1e-9)
        with pytest.raises(DataError, match=r"graph 0 of the batch: pbc: readout 'volume' divides by the cell volume"):
            m(structures()['molecule'])


@pytest.mark.parametrize('name', ['physnet', 'torchmdnet', 'tensornet', 'mpnn'])
def test_volume_readout_only_where_supported(name):
    with pytest.raises(ConfigError, match="unknown readout 'volume'"):
        get_model(name, **SMALL[name], readout='volume')


def _state_copy(dst, src):
    dst.load_state_dict(src.state_dict())            # the edge-network forms share NNConv's parameters, by name
    return dst


@pytest.mark.parametrize('name', ['mpnn', 'mpnn_transformer'])
@pytest.mark.parametrize('impl', ['dense', 'cached'])
@pytest.mark.parametrize('kind', ['molecule', 'crystal'])
def test_mpnn_edge_impls_equal_reference_with_forces(name, impl, kind):
    """The fast forms of the edge network give PyG NNConv's energies and forces (float64), the parameter gradients of a
    force loss (a second derivative) too, and forces = -dE/dx by finite differences."""
    ref = small(name, readout='sum', edge_impl='reference')
    m = _state_copy(small(name, readout='sum', edge_impl=impl), ref)
    g = structures()[kind]
    out = {}
    for key, model in (('ref', ref), ('fast', m)):
        model.zero_grad()
        e, f, _ = energy_forces(model, g.clone(), create_graph=True)
        (e.sum() + f.pow(2).sum()).backward()
        out[key] = e.detach(), f.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    (e_r, f_r, g_r), (e, f, gr) = out['ref'], out['fast']
    torch.testing.assert_close(e, e_r, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(f, f_r, rtol=1e-10, atol=1e-12)
    assert set(gr) == set(g_r)
    for n in g_r: torch.testing.assert_close(gr[n], g_r[n], rtol=1e-9, atol=1e-12, msg=n)
    atoms = [0, 1, g.num_nodes - 1]
    with torch.no_grad(): f_fd = fd_forces(lambda x: m(x)[:, 0], g, eps=1e-5, atoms=atoms)
    torch.testing.assert_close(f[atoms], f_fd[atoms], rtol=1e-5, atol=1e-7)


def test_mpnn_fast_forms_on_qm9_at_default_size(qm9_64):
    "At the default size (64 features, a 128-wide edge network) on 64 real molecules, in float64: outputs and gradients equal."
    b, y = qm9_64
    b = b.clone(); b.pos = b.pos.double()
    res = {}
    for impl in ('reference', 'cached', 'dense'):
        torch.manual_seed(0)
        m = get_model('mpnn_transformer', edge_impl=impl).double().train()
        m.zero_grad()
        out = m(b)
        torch.nn.functional.mse_loss(out, y.double()).backward()
        res[impl] = out.detach(), {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
    for impl in ('cached', 'dense'):
        torch.testing.assert_close(res[impl][0], res['reference'][0], rtol=1e-10, atol=1e-12)
        for n, gref in res['reference'][1].items():
            torch.testing.assert_close(res[impl][1][n], gref, rtol=1e-8, atol=1e-12, msg=n)


def test_tensornet_tensor_engine_equals_graph_engine():
    "TensorNet in the MD calculator: `tensor_forward` (the tensor engine, Verlet list with a skin) gives the graph engine's energy, forces and stress."
    from molcryst.calculator import MolcrystCalculator
    from molcryst.training import GraphModel
    torch.manual_seed(0)
    gm = GraphModel(dict(dataset='md17', targets=['energy'], backbone='tensornet'), ['energy'], {'energy': 'eV'}, [True],
                    dict(cutoff=5.0, max_neighbors=None), True, dict(SMALL['tensornet'], readout='sum')).eval()
    eth = molecule('CH3CH2OH'); eth.rattle(0.02, seed=1)
    for atoms, props in ((eth, ['energy', 'forces']), (sige(), ['energy', 'forces', 'stress'])):
        res = {}
        for engine in ('graph', 'tensor'):
            calc = MolcrystCalculator(gm, engine=engine, dtype=torch.float64, device='cpu')
            assert calc.engine == engine
            calc.calculate(atoms.copy(), props)
            res[engine] = calc.results
        for p in props: np.testing.assert_allclose(res['tensor'][p], res['graph'][p], rtol=1e-9, atol=1e-11, err_msg=p)
        assert np.abs(res['graph']['forces']).max() > 1e-4
