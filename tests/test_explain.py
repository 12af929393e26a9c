"""Attributions on every backbone: invariance and equivariance, batches, supercells, known answers (completeness,
linear heads, isolated atoms), errors that name the method to use, the `molcryst explain` command, UMAP and ROGI."""
import contextlib, io
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from ase import Atoms
from ase.build import bulk, molecule
from torch_geometric.data import Batch

from molcryst.core import ConfigError
from molcryst.explain import (INPUT_LAYERS, LAST_LAYER, METHODS, attribute, check_method, coulomb_eigenvalues, explain,
                              input_layers, last_layer, rogi, save_attributions, umap_project)
from molcryst.graphs import build_graph
from molcryst.models import BACKBONES, get_model
from molcryst.models.layers import Backbone, graph_index, random_rotation, transform_graph
from molcryst.training import GraphModel

SMALL = dict(cgcnn=dict(atom_fea_len=16, n_conv=2, h_fea_len=16), cgcnn_dense=dict(atom_fea_len=16, n_conv=2, h_fea_len=16),
             schnet=dict(hidden_channels=16, num_filters=16, num_interactions=2, num_rbf=10, cutoff=5.0),
             physnet=dict(hidden_channels=16, num_rbf=10, num_modules=2, cutoff=5.0),
             mpnn=dict(hidden_channels=16, num_steps=2, num_rbf=10, edge_hidden=16),
             mpnn_transformer=dict(hidden_channels=16, num_steps=2, num_rbf=10, edge_hidden=16, num_heads=2),
             torchmdnet=dict(embedding_dimension=16, num_layers=2, num_rbf=10, num_heads=2),
             tensornet=dict(hidden_channels=16, num_layers=1, num_rbf=10, cutoff=5.0))
NAMES = list(BACKBONES)
# every method, saliency twice (atom inputs, positions); CAM where the readout is 'sum'
VARIANTS = [('saliency', {}), ('saliency', dict(wrt='positions')), ('gradcam', {}), ('gradcam', dict(relu=False)),
            ('integrated_gradients', dict(n_steps=16)), ('cam', {})]


def wake(bb):
    "Random values for parameters initialised to zero (PhysNet's output layers), so outputs depend on the input."
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in bb.parameters():
            if p.abs().max() == 0: p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return bb


def backbone(name, readout='sum', seed=0):
    torch.manual_seed(seed)
    return wake(get_model(name, **SMALL[name], readout=readout)).eval()


def graphmodel(name, readout='sum'):
    "A GraphModel (untrained) whose scaler has a mean, a σ ≠ 1 and per-element references."
    torch.manual_seed(0)
    gm = GraphModel(dict(dataset='qm9', targets=['homo'], backbone=name), ['homo'], {'homo': 'eV'}, [readout == 'sum'],
                    dict(cutoff=5.0, max_neighbors=None), False, dict(SMALL[name], readout=readout)).eval()
    wake(gm.backbone)
    gm.scaler.mean.fill_(-6.5); gm.scaler.std.fill_(0.6)
    gm.scaler.atomref[[1, 6, 7, 8], 0] = torch.tensor([-0.1, 0.2, 0.3, -0.4], dtype=torch.float64)
    return gm


def mols():
    return [build_graph(molecule(n), cutoff=5.0) for n in ('CH3CH2NH2', 'CH3CONH2', 'CH3CH2OH')]


@pytest.mark.parametrize('name', NAMES)
def test_last_layer_is_embed(name):
    "The features Grad-CAM sees are `embed`'s atom features; saliency finds the atom inputs."
    bb, b = backbone(name), Batch.from_data_list(mols())
    with last_layer(bb) as st: bb(b)
    assert len(st[0]) == 1
    torch.testing.assert_close(st[0][0], bb.embed(b)[0], rtol=1e-5, atol=1e-5)
    assert len(input_layers(bb)) == (2 if name == 'torchmdnet' else 1)


@pytest.mark.parametrize('name', NAMES)
def test_invariant_under_rotation_translation_permutation(name):
    "Scores of a rotated, translated, atom-permuted molecule are the original scores, permuted."
    bb, g = backbone(name), mols()[1]
    perm = torch.randperm(g.num_nodes, generator=torch.Generator().manual_seed(1))
    g2 = transform_graph(g, random_rotation(3, torch.float32), torch.tensor([1.0, -2.0, 0.5]), perm)
    for method, kw in VARIANTS:
        s1, s2 = attribute(bb, g, method, **kw), attribute(bb, g2, method, **kw)
        if kw != {} or method != 'gradcam': assert s1.abs().max() > 0, (method, kw)   # ReLU'd Grad-CAM may be all 0
        torch.testing.assert_close(s2, s1[perm], rtol=2e-3, atol=2e-5 * (1 + s1.abs().max().item()), msg=f'{method} {kw}')


@pytest.mark.parametrize('name', NAMES)
def test_batch_equals_one_by_one_and_mode_restored(name):
    "Graphs in a batch do not interact (eval mode, even for a model left in train mode, which is restored)."
    bb, gs = backbone(name), mols()
    bb.train()
    for method, kw in VARIANTS:
        together = attribute(bb, Batch.from_data_list(gs), method, **kw)
        alone = torch.cat([attribute(bb, g, method, **kw) for g in gs])
        torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-6 * (1 + alone.abs().max().item()), msg=f'{method} {kw}')
    assert bb.training


@pytest.mark.parametrize('name', NAMES)
def test_isolated_atom_has_zero_position_saliency(name):
    "An atom with no neighbour within the cut-off: moving it changes nothing, so its position saliency is exactly 0."
    a = molecule('CH3CH2NH2') + Atoms('He', positions=[[30.0, 0, 0]])
    g = build_graph(a, cutoff=5.0)
    s = attribute(backbone(name), g, 'saliency', wrt='positions')
    assert s[-1].item() == 0.0 and (s[:-1] > 0).all()


@pytest.mark.parametrize('name', NAMES)
def test_cam_adds_up_to_prediction(name):
    "Sum readout: CAM scores (in eV, through the scaler) add up to the model's prediction for each molecule."
    gm, b = graphmodel(name), Batch.from_data_list(mols())
    cam = attribute(gm, b, 'cam')
    bv, G = graph_index(b)
    total = torch.zeros(G, dtype=torch.float64).index_add_(0, bv, cam)
    torch.testing.assert_close(total, gm(b)['y'][:, 0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('name', NAMES)
def test_integrated_gradients_complete(name):
    "Integrated gradients add up to y(x) − y(zero atom inputs), computed here separately."
    bb, g = backbone(name), mols()[0]
    ig = attribute(bb, g, 'integrated_gradients', n_steps=256)        # layer norms (transformers) need many steps near 0
    mods = input_layers(bb)
    hs = [m.register_forward_hook(lambda mod, i, o: torch.zeros_like(o)) for m in mods]
    with torch.no_grad(): y0 = bb(g)[0, 0].double()
    for h in hs: h.remove()
    with torch.no_grad(): y1 = bb(g)[0, 0].double()
    torch.testing.assert_close(ig.sum(), y1 - y0, rtol=5e-3, atol=5e-3 * (1 + abs(y1 - y0).item()))


@pytest.mark.parametrize('name', ['cgcnn', 'schnet', 'mpnn'])
def test_linear_head_gradcam_is_relu_of_cam(name):
    "Sum readout into one linear layer w·h + b: CAM_i = w·h_i + b and Grad-CAM_i = ReLU(w·h_i)."
    bb, b = backbone(name), Batch.from_data_list(mols())
    torch.manual_seed(2)
    bb.head = nn.Linear(16, 1)
    cam, gc = attribute(bb, b, 'cam'), attribute(bb, b, 'gradcam')
    torch.testing.assert_close(gc, (cam - bb.head.bias.item()).clamp_min(0), rtol=1e-5, atol=1e-6)


def test_mean_readout_linear_head_cam_averages_to_prediction():
    gm, b = graphmodel('schnet', 'mean'), Batch.from_data_list(mols())
    with pytest.raises(ConfigError, match="nonlinear head. Use method='gradcam'"): attribute(gm, b, 'cam')
    torch.manual_seed(3)
    gm.backbone.head = nn.Sequential(nn.Linear(16, 4), nn.Linear(4, 1))       # affine, as a composition
    cam = attribute(gm, b, 'cam')
    bv, G = graph_index(b)
    mean = torch.zeros(G, dtype=torch.float64).index_add_(0, bv, cam) / torch.bincount(bv)
    torch.testing.assert_close(mean, gm(b)['y'][:, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name', ['cgcnn', 'schnet', 'physnet'])
def test_supercell_copies_have_the_unit_cell_scores(name):
    "A 2×2×2 supercell of NaCl (sum readout): every copy of an atom gets the unit cell atom's score."
    bb = backbone(name)
    unit = bulk('NaCl', 'rocksalt', a=5.64)
    unit.positions[0] += [0.15, 0.05, -0.1]                            # off the symmetric site: nonzero position gradients
    g1, g8 = build_graph(unit, cutoff=5.0), build_graph(unit.repeat((2, 2, 2)), cutoff=5.0)
    for method, kw in VARIANTS[:4] + [('cam', {})]:
        s1, s8 = attribute(bb, g1, method, **kw), attribute(bb, g8, method, **kw)
        torch.testing.assert_close(s8.view(8, 2), s1.expand(8, 2), rtol=1e-3, atol=1e-6 * (1 + s1.abs().max().item()), msg=f'{method} {kw}')


def test_errors_name_the_method_to_use():
    b = Batch.from_data_list(mols())
    with pytest.raises(ConfigError, match="readout 'set2set' is not linear over atoms. Use method='gradcam'"):
        attribute(backbone('mpnn', 'set2set'), b, 'cam')
    for name in ('physnet', 'torchmdnet', 'cgcnn'):
        with pytest.raises(ConfigError, match="Use method='gradcam'"): attribute(backbone(name, 'mean'), b, 'cam')
    with pytest.raises(ConfigError, match="did you mean 'gradcam'"): check_method('gradcm')
    assert check_method('Grad-CAM') == 'gradcam' and check_method('ig') == 'integrated_gradients'
    with pytest.raises(ConfigError, match="unknown target 'lumo'; the model predicts: homo"): attribute(graphmodel('schnet'), b, target='lumo')
    with pytest.raises(ConfigError, match="wrt must be 'embedding' or 'positions'"): attribute(backbone('schnet'), b, 'saliency', wrt='z')


class Species(Backbone):
    "A backbone with its own names: the element table is `species`, and it has its own forward."
    def __init__(self):
        super().__init__()
        self.species = nn.Embedding(20, 8)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, 1)
    def atom_features(self, batch): return torch.tanh(self.mix(self.species(batch.z)))
    def forward(self, batch): return self.pool(self.head(self.atom_features(batch)), batch)


def test_unknown_backbone_layers_are_a_clear_error_and_registrable(monkeypatch):
    bb, b = Species().eval(), Batch.from_data_list(mols())
    with pytest.raises(ConfigError, match=r"INPUT_LAYERS, or use method='saliency' with wrt='positions'"): attribute(bb, b, 'saliency')
    with pytest.raises(ConfigError, match=r"LAST_LAYER, or use method='saliency'"): attribute(bb, b, 'gradcam')
    monkeypatch.setitem(INPUT_LAYERS, 'Species', ('species',))
    monkeypatch.setitem(LAST_LAYER, 'Species', 'mix')                 # pre-activation features: a registered layer is used as given
    assert attribute(bb, b, 'saliency').abs().max() > 0
    assert attribute(bb, b, 'gradcam', relu=False).abs().max() > 0
    cam = attribute(bb, b, 'cam')                                      # sum readout through `pool`: CAM applies
    with torch.no_grad(): y = bb(b)[:, 0].double()
    bv, G = graph_index(b)
    torch.testing.assert_close(torch.zeros(G, dtype=torch.float64).index_add_(0, bv, cam), y, rtol=1e-5, atol=1e-6)


# ---- the command line -------------------------------------------------------------------------------------------


def checkpoint(tmp_path, name='schnet', readout='sum'):
    "A checkpoint of an untrained GraphModel, in the format `molcryst.training.load` reads."
    gm = graphmodel(name, readout)
    p = tmp_path / f'{name}-{readout}.ckpt'
    torch.save({'state_dict': gm.state_dict(), 'hyper_parameters': dict(gm.hparams)}, p)
    return str(p)


def run_cli(*args):
    from molcryst.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def test_cli_writes_scores_images_and_views(tmp_path, nacl_cif):
    ck = checkpoint(tmp_path)
    import ase.io
    ase.io.write(tmp_path / 'ethanol.xyz', molecule('CH3CH2OH'))
    out = tmp_path / 'out'
    rc, so, se = run_cli('explain', ck, str(tmp_path / 'ethanol.xyz'), str(tmp_path / 'nacl.cif'), 'CC(N)=O',
                         '--method', 'cam', '--out', str(out))
    assert rc == 0, se
    names = sorted(p.name for p in out.iterdir())
    assert names == ['CC_N_O.html', 'CC_N_O.svg', 'ethanol.html', 'ethanol.svg', 'nacl.html', 'nacl.png', 'scores.csv']
    df = pd.read_csv(out / 'scores.csv')
    assert list(df.columns) == ['name', 'atom', 'element', 'x', 'y', 'z', 'score', 'method', 'target', 'unit', 'prediction']
    assert df.groupby('name').size().to_dict() == {'CC(N)=O': 9, 'ethanol': 9, 'nacl': 2}
    sums = df.groupby('name').agg(total=('score', 'sum'), prediction=('prediction', 'first'))
    np.testing.assert_allclose(sums.total, sums.prediction, rtol=1e-4, atol=1e-4)      # CAM adds up, in eV
    assert 'highest cam' in so and 'eV' in so
    assert (out / 'nacl.html').read_text().count('addCylinder') == 12                   # the unit cell
    assert (out / 'nacl.png').read_bytes()[:4] == b'\x89PNG'


def test_cli_png_and_other_methods(tmp_path):
    ck = checkpoint(tmp_path, 'physnet', 'mean')
    for method in ('gradcam', 'saliency', 'integrated_gradients'):
        rc, so, se = run_cli('explain', ck, 'CCN', '--method', method, '--out', str(tmp_path / method), '--format', 'png', '--no-html', '--steps', '8')
        assert rc == 0, se
        assert sorted(p.name for p in (tmp_path / method).iterdir()) == ['CCN.png', 'scores.csv']
        assert (tmp_path / method / 'CCN.png').read_bytes()[:4] == b'\x89PNG'


@pytest.mark.parametrize('args, message', [
    (['--method', 'cam'], "molcryst explain: error: CAM needs a readout that is linear over atoms"),
    (['--method', 'lrp'], "molcryst explain: error: unknown attribution method 'lrp'"),
    (['--target', 'lumo'], "molcryst explain: error: unknown target 'lumo'"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    ck = checkpoint(tmp_path, 'schnet', 'mean')
    rc, so, se = run_cli('explain', ck, 'CCO', '--out', str(tmp_path / 'o'), *args)
    assert rc == 2 and se.startswith(message) and len(se.strip().splitlines()) == 1, se
    if 'CAM' in message: assert "Use method='gradcam'" in se


def test_cli_missing_inputs(tmp_path):
    ck = checkpoint(tmp_path)
    rc, _, se = run_cli('explain', ck, str(tmp_path / 'nope.xyz'), '--out', str(tmp_path / 'o'))
    assert rc == 2 and 'nope.xyz' in se
    rc, _, se = run_cli('explain', str(tmp_path / 'missing.ckpt'), 'CCO', '--out', str(tmp_path / 'o'))
    assert rc == 2 and 'missing.ckpt' in se


def test_explain_objects(tmp_path):
    gm = graphmodel('schnet', 'mean')
    (a,) = explain(gm, ('ethylamine', molecule('CH3CH2NH2')), 'gradcam')
    assert a.name == 'ethylamine' and a.target == 'homo' and a.unit == 'eV' and len(a.scores) == 10
    np.testing.assert_allclose(a.prediction, gm(Batch.from_data_list([build_graph(molecule('CH3CH2NH2'), 5.0)]))['y'][0, 0].item(), rtol=1e-6)
    be = a.by_element()
    np.testing.assert_allclose(be.score_share.sum(), 1.0)
    assert set(be.index) == {'C', 'H', 'N'}
    files = save_attributions([a], tmp_path, image_format='png', html=False)
    assert files['images'][0].suffix == '.png' and files['views'] == []
    with pytest.raises(ConfigError, match='cutoff='): explain(gm.backbone, molecule('CH3CH2NH2'))


# ---- UMAP and ROGI -----------------------------------------------------------------------------------------------

def test_umap_separates_clusters():
    "Three well separated clusters in 20 dimensions stay apart on the 2D map (exact-neighbour path)."
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(3, 20))
    lab = np.repeat(np.arange(3), 200)
    X = centres[lab] + rng.normal(size=(600, 20))
    Y = umap_project(X, 2, seed=0)
    from sklearn.neighbors import NearestNeighbors
    _, nb = NearestNeighbors(n_neighbors=11).fit(Y).kneighbors(Y)
    assert (lab[nb[:, 1:]] == lab[:, None]).mean() > 0.99
    np.testing.assert_allclose(umap_project(X, 2, seed=0), Y)


def test_rogi_orders_landscapes_and_checks_input():
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(300, 2))
    y = X[:, 0] + 0.5 * X[:, 1]
    assert rogi(X, y) < rogi(X, y + rng.normal(scale=0.3, size=300)) < rogi(X, rng.permutation(y))
    r, se = rogi(X, y, nboots=4)
    assert 0 < se < r
    with pytest.raises(Exception, match='300 representations but 299'): rogi(X, y[:-1])
    with pytest.raises(ConfigError, match='periodic'): coulomb_eigenvalues([bulk('NaCl', 'rocksalt', a=5.64)])
