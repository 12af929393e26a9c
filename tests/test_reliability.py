"""Reliability: a bad-input corpus beyond tests/test_bad_input.py (xyz, MD17 .npz, cells, names, YAML, papermill,
checkpoints, predict inputs), a 10,000-atom cell, and determinism. Every case asserts the exception type, that
the message names the file (or value) and the field, and that nothing partial is left behind."""
import json, os, subprocess, sys, zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from molcryst.core import CheckpointError, CIFError, ConfigError, DataError, EmptyDatasetError, cache_dir
from molcryst.datasets import read_cif, read_qm9_xyz
from molcryst.md17 import read_md17_npz
from molcryst.training import TrainConfig, fit, load, predict

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(hidden_channels=16, num_filters=16, num_interactions=1, num_rbf=10)

def leftovers(*dirs):
    "Files (not folders) under the given folders and the molcryst cache."
    out = []
    for d in (*dirs, cache_dir()):
        d = Path(d)
        if d.exists(): out += [p for p in d.rglob('*') if p.is_file()]
    return out

# ---------------------------------------------------------------- xyz (QM9 raw layout)
XYZ_HEAD = "gdb 1\t157.7\t157.7\t157.7\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.36\t0.0447\t-40.47\t-40.47\t-40.47\t-40.49\t6.469\n"
C = "C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689\n"
H = "H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921\n"
XYZ_CASES = {
    'count_too_large': ('5\n' + XYZ_HEAD + C + H + '1 2\n\n', 'line 1: natoms: 5 atoms announced'),
    'count_not_int': ('five\n' + XYZ_HEAD + C + H, 'line 1: natoms'),
    'coordinate_text': ('2\n' + XYZ_HEAD + C + H.replace('0.002150416', 'abc'), 'line 4'),
    'empty': ('', 'natoms'),
}

@pytest.mark.parametrize('case', sorted(XYZ_CASES))
def test_bad_xyz(case):
    text, where = XYZ_CASES[case]
    with pytest.raises(DataError) as e: read_qm9_xyz(text, path=f'{case}.xyz')
    assert f'{case}.xyz' in str(e.value) and where in str(e.value)

# ---------------------------------------------------------------- MD17 .npz
def _npz(path, **arrays): np.savez(path, **arrays); return path
NPZ_CASES = {
    'missing_F': (dict(z=np.array([1, 1]), R=np.zeros((2, 2, 3)), E=np.zeros(2)), 'F: missing key'),
    'missing_z': (dict(R=np.zeros((2, 2, 3)), E=np.zeros(2), F=np.zeros((2, 2, 3))), 'z: missing key'),
    'R_atoms': (dict(z=np.array([1, 1]), R=np.zeros((2, 3, 3)), E=np.zeros(2), F=np.zeros((2, 2, 3))), 'R: shape (2, 3, 3)'),
    'E_frames': (dict(z=np.array([1, 1]), R=np.zeros((2, 2, 3)), E=np.zeros(3), F=np.zeros((2, 2, 3))), 'E: shape (3,)'),
    'F_shape': (dict(z=np.array([1, 1]), R=np.zeros((2, 2, 3)), E=np.zeros(2), F=np.zeros((2, 3))), 'F:'),
    'nan_energy': (dict(z=np.array([1, 1]), R=np.zeros((2, 2, 3)) + [[0, 0, 0], [0, 0, .74]], E=np.array([0., np.nan]), F=np.zeros((2, 2, 3))), 'E'),
}

@pytest.mark.parametrize('case', sorted(NPZ_CASES))
def test_bad_md17_npz(tmp_path, case):
    arrays, msg = NPZ_CASES[case]
    p = _npz(tmp_path / f'{case}.npz', **arrays)
    with pytest.raises(DataError) as e:
        from molcryst.md17 import MD17
        MD17(p, progress=False)
    assert str(p) in str(e.value) and msg in str(e.value)
    assert not [f for f in leftovers() if f.suffix in ('.pt', '.tmp')]

def test_npz_that_is_not_a_zip(tmp_path):
    p = tmp_path / 'junk.npz'; p.write_bytes(b'PK\x03\x04 this is not an archive')
    with pytest.raises(DataError, match='junk.npz: not an .npz archive'): list(read_md17_npz(p))

def test_npz_pickled_object_array_is_refused(tmp_path):
    p = tmp_path / 'obj.npz'
    np.savez(p, z=np.array([1, 1]), R=np.array([object(), object()], dtype=object), E=np.zeros(1), F=np.zeros((1, 2, 3)))
    with pytest.raises(DataError, match='obj.npz'): list(read_md17_npz(p))

# ---------------------------------------------------------------- CIF cells
CELL = """data_x
_cell_length_a {a}
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta {beta}
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Cu1 Cu 0 0 0
"""
@pytest.mark.parametrize('a,beta,field', [(-4.0, 90, '_cell_length_a'), (0, 90, '_cell_length_a'),
                                          (4.0, 180, '_cell_angle_beta'), (4.0, -10, '_cell_angle_beta')])
def test_bad_cell(tmp_path, a, beta, field):
    f = tmp_path / 'cell.cif'; f.write_text(CELL.format(a=a, beta=beta))
    with pytest.raises(CIFError) as e: read_cif(f)
    assert str(e.value).startswith(f'{f}: {field}:')

def test_isolated_atom_named(tmp_path):
    from molcryst.datasets import CIFFolder
    (tmp_path / 'lonely.cif').write_text(CELL.format(a=20.0, beta=90).replace('_cell_length_b 4.0', '_cell_length_b 20.0')
                                         .replace('_cell_length_c 4.0', '_cell_length_c 20.0'))
    (tmp_path / 'id_prop.csv').write_text('lonely,1.0\n')
    with pytest.raises(DataError) as e: CIFFolder(tmp_path, cutoff=5.0, isolated='error', progress=False)
    assert 'lonely' in str(e.value) and 'cutoff' in str(e.value) and 'no neighbour within 5.0' in str(e.value)
    assert not [f for f in leftovers() if f.suffix == '.pt']

# ---------------------------------------------------------------- a 10,000-atom cell works (no hang, bounded memory)
def test_ten_thousand_atom_cell():
    from ase.build import bulk
    from torch_geometric.data import Batch
    from molcryst.graphs import build_graph
    from molcryst.models import get_model
    atoms = bulk('Cu', 'fcc', a=3.6, cubic=True).repeat((14, 14, 13))        # 10,192 atoms
    assert len(atoms) > 10_000
    g = build_graph(atoms, cutoff=5.0)
    assert g.num_nodes == len(atoms) and g.edge_index.shape[1] == len(atoms) * 42     # fcc at a = 3.6 Å: 12 + 6 + 24 neighbours within 5 Å
    m = get_model('schnet', **TINY, cutoff=5.0).eval()
    with torch.no_grad(): e = m(Batch.from_data_list([g]))
    assert torch.isfinite(e).all()

# ---------------------------------------------------------------- names and types in configs
NAME_CASES = {
    'backbone': (dict(backbone='schnetx'), "TrainConfig.backbone: unknown backbone 'schnetx'; valid: cgcnn"),
    'dataset': (dict(dataset='qm7'), "TrainConfig.dataset: unknown dataset 'qm7'"),
    'optimizer': (dict(optimizer='rmsprop'), "TrainConfig.optimizer: unknown optimizer 'rmsprop'; valid: sgd, adam, adamw, lamb"),
    'hyperparameter': (dict(model_kwargs=dict(num_layers=3)), "TrainConfig.model_kwargs: backbone 'schnet' has no hyperparameter 'num_layers'"),
    'field': (dict(learning_rat=0.1), "unknown field 'learning_rat' (did you mean 'learning_rate'?)"),
    'type': (dict(epochs=2.5), 'TrainConfig.epochs: expected int, got 2.5 (float)'),
    'bool_as_int': (dict(batch_size=True), 'TrainConfig.batch_size: expected int, got True (bool)'),
    'negative_lr': (dict(learning_rate=-0.1), 'TrainConfig.learning_rate: must be a positive number'),
    'forces_weight': (dict(forces_weight=2.0), 'TrainConfig.forces_weight: must be in [0, 1]'),
    'split_len': (dict(split=[0.8, 0.2]), 'TrainConfig.split: need 3 entries'),
    'logger': (dict(loggers=['tensorboard']), "TrainConfig.loggers: unknown logger 'tensorboard'"),
}

@pytest.mark.parametrize('case', sorted(NAME_CASES))
def test_bad_config_names_and_types(tmp_path, case):
    over, msg = NAME_CASES[case]
    with pytest.raises(ConfigError) as e: fit(dict(dict(run_dir=str(tmp_path / 'run')), **over), progress=False)
    assert msg in str(e.value)
    assert not (tmp_path / 'run').exists()

def test_unknown_target_leaves_no_run_folder(tmp_path):
    with pytest.raises(ConfigError, match="qm9: unknown target 'homo_lumo'; valid targets: .*homo"):
        fit(dict(targets=['homo_lumo'], dataset_kwargs=dict(limit=20, progress=False), run_dir=str(tmp_path / 'run')), progress=False)
    assert not (tmp_path / 'run').exists()

def test_empty_split_leaves_nothing(tmp_path):
    with pytest.raises(EmptyDatasetError) as e:
        fit(dict(dataset_kwargs=dict(limit=20, progress=False), split=[1.0, 0.0, 0.0], run_dir=str(tmp_path / 'run')), progress=False)
    assert 'qm9: val: the val split is empty' in str(e.value)
    assert not (tmp_path / 'run').exists()

YAML_CASES = {
    'unclosed': ('backbone: schnet\nepochs: [1, 2\n', 'invalid YAML: line'),
    'tabs': ('backbone: schnet\n\tepochs: 3\n', 'invalid YAML'),
    'list': ('- schnet\n- 3\n', 'expected a mapping of TrainConfig fields, got list'),
    'type': ('epochs: many\n', "TrainConfig.epochs: expected int, got 'many'"),
}

@pytest.mark.parametrize('case', sorted(YAML_CASES))
def test_bad_yaml(tmp_path, case):
    text, msg = YAML_CASES[case]
    f = tmp_path / f'{case}.yaml'; f.write_text(text)
    with pytest.raises(ConfigError) as e: TrainConfig.from_yaml(f)
    assert msg in str(e.value)
    if case != 'type': assert str(f) in str(e.value)

def test_papermill_parameter_of_wrong_type(tmp_path):
    out = tmp_path / 'out.ipynb'
    p = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT / 'nbs' / '10_train.ipynb'), str(out), '--cwd', str(tmp_path),
                        '-p', 'epochs', 'three', '-p', 'run_dir', str(tmp_path / 'run')], capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    assert "TrainConfig.epochs: expected int, got 'three' (str)" in p.stdout + p.stderr
    assert not (tmp_path / 'run').exists()

# ---------------------------------------------------------------- checkpoints
@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp('trained')
    with pytest.MonkeyPatch.context() as mp:           # the module's cache, not left set for the modules after it
        mp.setenv('MOLCRYST_CACHE', str(d / 'cache'))
        return fit(dict(dataset_kwargs=dict(limit=60, progress=False), model_kwargs=TINY, epochs=1, run_dir=str(d / 'run')), progress=False)

CKPT_CASES = {
    'random_bytes': (lambda p, good: p.write_bytes(np.random.default_rng(0).bytes(4096)), 'not a readable checkpoint'),
    'truncated': (lambda p, good: p.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2]), 'truncated or corrupt'),
    'empty': (lambda p, good: p.write_bytes(b''), 'not a readable checkpoint'),
    'a_list': (lambda p, good: torch.save([1, 2, 3], p), 'not a molcryst checkpoint'),
    'no_config': (lambda p, good: torch.save({'state_dict': {}}, p), "field 'hyper_parameters' missing"),
    'wrong_weights': (lambda p, good: torch.save(dict(torch.load(good, weights_only=True), state_dict={'x': torch.zeros(1)}), p), 'weights do not match'),
}

@pytest.mark.parametrize('case', sorted(CKPT_CASES))
def test_bad_checkpoint(tmp_path, trained, case):
    make, msg = CKPT_CASES[case]
    p = tmp_path / f'{case}.ckpt'; make(p, trained.best_checkpoint)
    with pytest.raises(CheckpointError) as e: load(p)
    assert str(p) in str(e.value) and msg in str(e.value)

def test_predict_inputs(tmp_path, trained):
    with pytest.raises(DataError, match='mofs/ABAVIJ.cif: structures: no such structure file'): predict(trained.best_checkpoint, ['mofs/ABAVIJ.cif'])
    with pytest.raises(DataError, match="C1CC: structures: not a file and not a valid SMILES"): predict(trained.best_checkpoint, ['C1CC'])
    bad = tmp_path / 'bad.xyz'; bad.write_text('3\n\nC 0 0 0\n')
    with pytest.raises(DataError, match='bad.xyz: structures: ASE cannot read it'): predict(trained.best_checkpoint, [bad])
    with pytest.raises(ConfigError, match="unknown pretrained model 'schnet-qm7'"): predict('schnet-qm7', ['CCO'])

def test_cli_errors_are_one_line(tmp_path, trained):
    for args, msg in ((['train', '--backbone', 'gcn'], "unknown backbone 'gcn'"),
                      (['predict', str(tmp_path / 'none.ckpt'), 'CCO'], 'none.ckpt: no such checkpoint file')):
        p = subprocess.run([sys.executable, '-c', 'import sys; from molcryst.cli import main; sys.exit(main())', *args],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr

# ---------------------------------------------------------------- determinism
def test_same_seed_same_split_and_metrics(tmp_path):
    cfg = dict(dataset_kwargs=dict(limit=100, progress=False), model_kwargs=TINY, epochs=2, batch_size=16)
    a = fit(dict(cfg, run_dir=str(tmp_path / 'a')), progress=False)
    b = fit(dict(cfg, run_dir=str(tmp_path / 'b')), progress=False)
    c = fit(dict(cfg, seed=1, run_dir=str(tmp_path / 'c')), progress=False)
    sa, sb, sc = (json.loads((tmp_path / k / 'split.json').read_text()) for k in 'abc')
    assert sa['test'] == sb['test'] == sc['test']                 # the split follows split_seed, not seed
    assert a.metrics['test'] == b.metrics['test']                 # to the last digit on CPU
    assert a.history.val_loss.tolist() == b.history.val_loss.tolist()
    assert a.metrics['test'] != c.metrics['test']                 # another seed is another model


def test_garbage_checkpoints_fuzz(tmp_path):
    "Random bytes of random length, raw and after a pickle protocol header: always a CheckpointError naming the file, never another exception."
    rng = np.random.default_rng(1)
    for k in range(300):
        p = tmp_path / f'g{k}.ckpt'
        body = rng.bytes(int(rng.integers(1, 2048)))
        p.write_bytes(body if k % 2 else b'\x80\x02' + body)
        with pytest.raises(CheckpointError, match=rf'g{k}\.ckpt'): load(p)
