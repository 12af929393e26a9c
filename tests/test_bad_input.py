"Bad input gets a clear error naming the file and the field, and leaves no cache behind."
from pathlib import Path
import numpy as np
import pytest

from molcryst.core import CIFError, ConfigError, DataError, EmptyDatasetError, UnknownElementError, cache_dir
from molcryst.datasets import CIFFolder, QM9, read_cif, read_id_prop, read_qm9_xyz, CoREMOF
from molcryst.graphs import build_graph

GOOD = """data_x
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Cu1 Cu 0 0 0 1.0
O1 O 0.5 0.5 0.5 1.0
"""

CIF_CASES = {
    'empty': ('', 'empty file', None),
    'whitespace': ('\n\n   \n', 'empty file', None),
    'no_cell_a': (GOOD.replace('_cell_length_a 4.0\n', ''), 'no _cell_length_a', '_cell_length_a'),
    'no_angle': (GOOD.replace('_cell_angle_gamma 90\n', ''), 'no _cell_angle_gamma', '_cell_angle_gamma'),
    'unknown_element': (GOOD.replace('O1 O ', 'Qq1 Qq '), "unknown element 'Qq'", '_atom_site_type_symbol'),
    'partial_occupancy': (GOOD.replace('O1 O 0.5 0.5 0.5 1.0', 'O1 O 0.5 0.5 0.5 0.5'), 'partial occupancy 0.5', '_atom_site_occupancy'),
    'flat_cell': (GOOD.replace('_cell_angle_gamma 90', '_cell_angle_gamma 0'), 'cell', None),
    'no_atoms': (GOOD.split('loop_')[0], 'no structure', '_atom_site_fract_x'),
    'truncated': (GOOD[:GOOD.index('_atom_site_fract_y')], '', None),
    'binary': ('\x00\x01\x02garbage', '', None),
}


@pytest.mark.parametrize('case', sorted(CIF_CASES))
def test_bad_cif(tmp_path, case):
    text, msg, tag = CIF_CASES[case]
    f = tmp_path / f'{case}.cif'
    f.write_text(text)
    with pytest.raises(DataError) as e:
        read_cif(f)
    s = str(e.value)
    assert s.startswith(str(f)), s          # names the file
    assert msg in s, s
    if tag: assert tag in s, s              # and the field


def test_truncated_cif_in_folder_leaves_no_cache(tmp_path):
    (tmp_path / 'good.cif').write_text(GOOD)
    (tmp_path / 'bad.cif').write_text(GOOD.replace('_cell_length_b 4.0\n', ''))
    (tmp_path / 'id_prop.csv').write_text('good,1.0\nbad,2.0\n')
    with pytest.raises(CIFError, match='bad.cif: _cell_length_b'):
        CIFFolder(tmp_path, progress=False)
    assert not any(p.suffix in ('.pt', '.tmp') for p in cache_dir().rglob('*') if p.is_file())


ID_PROP_CASES = {
    'text_label': ('a,high\n', "row 1 (a): property: label 'high' is not a number"),
    'nan_label': ('a,NaN\n', 'row 1 (a): property: label is NaN'),
    'inf_label': ('a,inf\n', 'row 1 (a): property: label is inf'),
    'missing_label': ('a\n', 'row 1 (a): property: no label'),
    'empty_id': (',1.0\n', 'row 1: id: empty id'),
    'duplicate': ('a,1\nb,2\na,3\n', 'row 3 (a): id: duplicate id (first at row 1)'),
    'ragged': ('a,1,2\nb,3\n', 'row 2 (b): property: 1 labels, expected 2'),
    'empty_file': ('\n\n', 'no rows'),
}


@pytest.mark.parametrize('case', sorted(ID_PROP_CASES))
def test_bad_id_prop(tmp_path, case):
    text, msg = ID_PROP_CASES[case]
    f = tmp_path / 'id_prop.csv'
    f.write_text(text)
    with pytest.raises(DataError) as e:
        read_id_prop(f)
    assert str(e.value).startswith(str(f)) and msg in str(e.value), str(e.value)


def test_id_without_cif(tmp_path):
    (tmp_path / 'a.cif').write_text(GOOD)
    (tmp_path / 'id_prop.csv').write_text('a,1\nmissing_mof,2\n')
    with pytest.raises(DataError, match=r'id_prop.csv: row 2 \(missing_mof\): id: no file missing_mof.cif'):
        CIFFolder(tmp_path, progress=False)


@pytest.mark.parametrize('cutoff', [0, -2.5, float('nan')])
def test_non_positive_cutoff(cutoff):
    with pytest.raises(ConfigError, match='cutoff must be positive'):
        QM9(cutoff=cutoff, limit=5, progress=False)


def test_empty_after_filtering():
    with pytest.raises(EmptyDatasetError, match='no structures left after filtering'):
        CoREMOF(max_atoms=2, progress=False)


def test_qm9_xyz_bad_element():
    text = "2\ngdb 9 " + ' '.join(['1.0'] * 15) + "\nC 0 0 0 0\nZz 0 0 1.2 0\n1\nC\nInChI\n"
    with pytest.raises(UnknownElementError, match="m.xyz: line 4: element: unknown element 'Zz'"):
        read_qm9_xyz(text, 'm.xyz')


def test_graph_input_errors():
    with pytest.raises(DataError, match='s1: positions: 2 atomic numbers but 1 positions'):
        build_graph(dict(z=[1, 1], pos=[[0, 0, 0]]), name='s1')
    with pytest.raises(DataError, match='s2: positions: non-finite position'):
        build_graph(dict(z=[1], pos=[[0, np.nan, 0]]), name='s2')
    with pytest.raises(UnknownElementError, match="s3: atom 0: z: unknown atomic number 0"):
        build_graph(dict(z=[0], pos=[[0, 0, 0]]), name='s3')


# ---- structures that would give silent garbage: every reader refuses them, naming file, atoms and distance ----
import json, subprocess, sys
import torch
from ase import Atoms
from ase.build import molecule
from molcryst.core import CheckpointError, MolcrystError, NonFiniteError, StructureError
from molcryst.graphs import MIN_DISTANCE

CLI = [sys.executable, '-c', 'import sys; from molcryst.cli import main; sys.exit(main())']
OVERLAP_CIF = GOOD.replace('O1 O 0.5 0.5 0.5 1.0', 'O1 O 0.5 0.5 0.5 1.0\nO2 O 0.5 0.5 0.5 1.0')   # two O on one site


def _leftovers(*folders):
    "Files a failed call left behind: caches, temporary files, outputs."
    return [p for f in folders for p in Path(f).rglob('*') if p.is_file() and (p.suffix in ('.pt', '.tmp', '.csv', '.traj') or '.tmp' in p.name)]


def _xyz_h_on_c(path):
    m = molecule('CH4'); m.positions[1] = m.positions[0] + [0.2, 0, 0]
    import ase.io; ase.io.write(path, m)
    return path


def _md17_overlap(path):
    "An MD17-layout file whose frame 3 puts two atoms 0.1 Å apart."
    from molcryst.md17 import SHIPPED
    with np.load(SHIPPED['ethanol'], allow_pickle=False) as d: arrays = {k: d[k][:6] if d[k].ndim and len(d[k]) == 2000 else d[k] for k in d.files}
    arrays['R'] = arrays['R'].copy(); arrays['R'][3, 1] = arrays['R'][3, 0] + np.float32(0.1)
    np.savez(path, **arrays)
    return path


OVERLAP_READERS = {
    # reader: (make the input in tmp, call the reader on it, text the message must hold)
    'read_cif': (lambda t: (t / 'dup.cif').write_text(OVERLAP_CIF) and t / 'dup.cif',
                 lambda f: read_cif(f), 'dup.cif: atoms 1 and 2: positions: atoms 1 (O) and 2 (O) are 0.000 Å apart'),
    'cif_folder': (lambda t: ((t / 'mofs').mkdir(), (t / 'mofs' / 'ok.cif').write_text(GOOD), (t / 'mofs' / 'dup.cif').write_text(OVERLAP_CIF),
                              (t / 'mofs' / 'id_prop.csv').write_text('ok,1.0\ndup,2.0\n')) and t / 'mofs',
                   lambda f: CIFFolder(f, progress=False), 'mofs/dup.cif: dup: atoms 1 and 2: positions: atoms 1 (O) and 2 (O) are 0.000 Å apart'),
    'predict_xyz': (lambda t: _xyz_h_on_c(t / 'ch4.xyz'),
                    lambda f: __import__('molcryst.training', fromlist=['predict']).predict('schnet-qm9-homo', [f]),
                    'ch4.xyz: atoms 0 and 1: positions: atoms 0 (C) and 1 (H) are 0.200 Å apart'),
    'predict_cif': (lambda t: (t / 'dup.cif').write_text(OVERLAP_CIF) and t / 'dup.cif',
                    lambda f: __import__('molcryst.training', fromlist=['predict']).predict('cgcnn-coremof-vf', [f]),
                    'dup.cif: atoms 1 and 2: positions: atoms 1 (O) and 2 (O) are 0.000 Å apart'),
    'build_graph_atoms': (lambda t: None,
                          lambda f: build_graph(Atoms('CH', positions=[[0, 0, 0], [0, 0, 0.3]]), name='my-atoms'),
                          'my-atoms: atoms 0 and 1: positions: atoms 0 (C) and 1 (H) are 0.300 Å apart'),
    'periodic_self_image': (lambda t: None,
                            lambda f: build_graph(Atoms('Cu', cell=[0.4, 3, 3], pbc=True), name='thin.cif'),
                            'thin.cif: atom 0: positions: atom 0 (Cu) and its own periodic image are 0.400 Å apart'),
    'qm9_raw_xyz': (lambda t: ((t / 'raw').mkdir(), (t / 'raw' / 'dsgdb9nsd_000001.xyz').write_text(
                        "2\ngdb 1 " + ' '.join(['1.0'] * 15) + "\nC 0 0 0 0\nH 0 0 0.1 0\n1\nC\nInChI\n")) and t / 'raw',
                    lambda f: __import__('molcryst.datasets', fromlist=['QM9Raw']).QM9Raw(f, progress=False),
                    'dsgdb9nsd_000001.xyz: qm9-1: atoms 0 and 1: positions: atoms 0 (C) and 1 (H) are 0.100 Å apart'),
    'md17_npz': (lambda t: _md17_overlap(t / 'eth.npz'),
                 lambda f: __import__('molcryst.md17', fromlist=['MD17']).MD17(str(f), progress=False),
                 'eth.npz: eth-3: atoms 0 and 1: positions'),
    'md_calculator': (lambda t: None,
                      lambda f: _calc_energy(Atoms('CH', positions=[[0, 0, 0], [0, 0, 0.2]])),
                      'CH: atoms 0 and 1: positions: atoms 0 (C) and 1 (H) are 0.200 Å apart'),
}


def _calc_energy(atoms):
    from molcryst.md import MolcrystCalculator
    atoms.calc = MolcrystCalculator('et-ethanol-xtb')
    return atoms.get_potential_energy()


@pytest.mark.parametrize('reader', sorted(OVERLAP_READERS))
def test_overlapping_atoms_are_refused(tmp_path, reader):
    make, call, msg = OVERLAP_READERS[reader]
    f = make(tmp_path)
    before = {p for p in tmp_path.rglob('*') if p.is_file()}
    with pytest.raises(StructureError) as e:
        call(f)
    s = str(e.value)
    assert msg in s, s
    assert f'closer than min_distance={MIN_DISTANCE:g} Å' in s and 'min_distance=0' in s, s   # the threshold and how to change it
    new = {p for p in tmp_path.rglob('*') if p.is_file()} - before
    assert not new and not _leftovers(cache_dir()), (new, _leftovers(cache_dir()))   # no cache, no partial output


def test_min_distance_is_overridable(tmp_path, monkeypatch):
    (tmp_path / 'dup.cif').write_text(OVERLAP_CIF.replace('O2 O 0.5 0.5 0.5', 'O2 O 0.55 0.5 0.5'))   # 0.2 Å apart
    with pytest.raises(StructureError, match='0.200 Å apart'): read_cif(tmp_path / 'dup.cif')
    assert len(read_cif(tmp_path / 'dup.cif', min_distance=0.1)) == 3
    monkeypatch.setenv('MOLCRYST_MIN_DISTANCE', '0')
    assert len(read_cif(tmp_path / 'dup.cif')) == 3
    monkeypatch.setenv('MOLCRYST_MIN_DISTANCE', 'half')
    with pytest.raises(ConfigError, match="MOLCRYST_MIN_DISTANCE: not a number: 'half'"): read_cif(tmp_path / 'dup.cif')


def test_coremof_skips_overlapping_structures_and_lists_them(caplog):
    # 7 % of CoRE MOF 2019-ASR has sites closer than 0.5 Å; the first such within the 300-atom filter
    ds = CoREMOF(limit=40, max_atoms=60, progress=False)
    assert len(ds) == 40 and ds.skipped                       # `limit` counts the structures kept
    cid, why = ds.skipped[0]
    assert cid not in ds.ids and 'closer than min_distance=0.5 Å' in why and f'{cid}.cif' in why
    assert any('structures left out' in r.message for r in caplog.records)
    before = set(_leftovers(cache_dir('coremof')))            # the cache of the dataset above
    with pytest.raises(StructureError, match=f'{cid}.cif: {cid}: atoms'):
        CoREMOF(ids=[cid], progress=False, overlapping='error')
    assert set(_leftovers(cache_dir('coremof'))) == before


def test_md_run_refuses_a_bad_start_and_writes_nothing(tmp_path):
    from molcryst.md import MolcrystCalculator, run_md
    a = molecule('CH3CH2OH'); a.positions[2] = a.positions[0] + [0.1, 0, 0]
    with pytest.raises(StructureError, match='C2H6O: atoms 0 and 2: positions'):
        run_md(a, MolcrystCalculator('et-ethanol-xtb'), steps=5, trajectory=tmp_path / 'md.traj', progress=False)
    assert not list(tmp_path.iterdir())


# ---- model outputs that are not numbers are an error, never a CSV row ----
@pytest.fixture
def nan_checkpoint(tmp_path):
    from molcryst.pretrained import checkpoint_path
    from molcryst.training import safe_load
    ck = safe_load(checkpoint_path('et-ethanol-xtb'))
    k = next(k for k, v in ck['state_dict'].items() if v.is_floating_point() and v.ndim == 2)
    ck['state_dict'][k] = torch.full_like(ck['state_dict'][k], float('nan'))
    p = tmp_path / 'nan.ckpt'; torch.save(ck, p)
    return p


def test_nan_model_output_is_an_error(tmp_path, nan_checkpoint):
    from molcryst.training import predict
    with pytest.raises(NonFiniteError, match=r'CCO: energy: the model .*nan.ckpt.* predicts nan, not a finite number; nothing was written'):
        predict(nan_checkpoint, ['CCO'])
    with pytest.raises(NonFiniteError, match='non-finite energy and forces for C2H6O'):
        from molcryst.md import MolcrystCalculator
        a = molecule('CH3CH2OH'); a.calc = MolcrystCalculator(nan_checkpoint); a.get_potential_energy()
    out = tmp_path / 'pred.csv'
    r = subprocess.run([*CLI, 'predict', str(nan_checkpoint), 'CCO', '--forces', '--out', str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and 'not a finite number' in r.stderr, (r.returncode, r.stderr[-800:])
    assert not out.exists() and not _leftovers(tmp_path)


# ---- partial occupancy: refused everywhere by default, the option to ignore named ----
PARTIAL_CIF = GOOD.replace('O1 O 0.5 0.5 0.5 1.0', 'O1 O 0.5 0.5 0.5 0.5')

@pytest.mark.parametrize('entry', ['predict', 'cli', 'cif_folder'])
def test_partial_occupancy_refused_with_the_option_named(tmp_path, entry):
    from molcryst.training import predict
    f = tmp_path / 'half.cif'; f.write_text(PARTIAL_CIF)
    if entry == 'predict':
        with pytest.raises(CIFError, match=r'half.cif: _atom_site_occupancy: partial occupancy 0.5 on atom 2 \(O\).*occupancy="ignore"'):
            predict('cgcnn-coremof-vf', [f])
        assert len(predict('cgcnn-coremof-vf', [f], occupancy='ignore')) == 1
    elif entry == 'cli':
        out = tmp_path / 'p.csv'
        r = subprocess.run([*CLI, 'predict', 'cgcnn-coremof-vf', str(f), '--out', str(out)], capture_output=True, text=True)
        assert r.returncode == 2 and '--occupancy ignore' in r.stderr and '_atom_site_occupancy' in r.stderr, r.stderr[-800:]
        assert not out.exists()
        r = subprocess.run([*CLI, 'predict', 'cgcnn-coremof-vf', str(f), '--occupancy', 'ignore', '--out', str(out)], capture_output=True, text=True)
        assert r.returncode == 0 and out.exists(), r.stderr[-800:]
    else:
        (tmp_path / 'id_prop.csv').write_text('half,0.3\n')
        with pytest.raises(CIFError, match='partial occupancy'): CIFFolder(tmp_path, progress=False)
        assert not _leftovers(cache_dir())
        assert len(CIFFolder(tmp_path, progress=False, occupancy='ignore')) == 1


# ---- out of the model's domain: a flagged row and a warning ----
ROCKSALT = '\n'.join(['data_NaCl', *[f'_cell_length_{x} 5.64' for x in 'abc'], *[f'_cell_angle_{x} 90' for x in ('alpha', 'beta', 'gamma')],
                     'loop_', '_atom_site_type_symbol', '_atom_site_fract_x', '_atom_site_fract_y', '_atom_site_fract_z',
                     *[f'Na {x} {y} {z}' for x, y, z in ((0, 0, 0), (.5, .5, 0), (.5, 0, .5), (0, .5, .5))],
                     *[f'Cl {x} {y} {z}' for x, y, z in ((.5, 0, 0), (0, .5, 0), (0, 0, .5), (.5, .5, .5))], ''])

def test_out_of_domain_rows_are_flagged(tmp_path, nacl_cif, caplog):
    from molcryst.training import predict
    f = tmp_path / 'rocksalt.cif'; f.write_text(ROCKSALT)
    df = predict('cgcnn-coremof-vf', [f, nacl_cif])          # rock salt; and Na, Cl on a simple cubic (CsCl-type) cell
    assert df.AV_VF[0] < 0 and df.AV_VF[1] > 1               # no pores in either; the model says −0.06 and 1.003
    assert df.in_domain.tolist() == [False, False]
    assert all('outside the values it can take ([0.0, 1.0])' in s and s.startswith('AV_VF = ') for s in df.domain_flags), df.domain_flags
    assert any("outside the model's domain" in r.message for r in caplog.records)
    df = predict('schnet-qm9-homo', ['C[SiH3]', 'CCO'])       # QM9 has H, C, N, O, F only
    assert df.in_domain.tolist() == [False, True]
    assert df.domain_flags.tolist() == ['elements not in the training data: Si', '']


# ---- names that are not what they claim ----
def test_pretrained_names_cannot_leave_the_package(tmp_path):
    from molcryst import pretrained
    outside = tmp_path / 'evil.ckpt'; outside.write_bytes(b'x')
    rel = Path(*(['..'] * len(pretrained.PRETRAINED_DIR.parts))) / outside.relative_to('/')
    assert (pretrained.PRETRAINED_DIR / f'{rel.with_suffix("")}.ckpt').resolve() == outside.resolve()   # the old join reached it
    for name in [str(rel.with_suffix('')), '../schnet-qm9-homo', 'schnet-qm9-homo/../schnet-qm9-homo', '', 'SCHNET-QM9-HOMO']:
        with pytest.raises(ConfigError, match='unknown pretrained model'):
            pretrained.load(name)


def test_dataset_names_have_one_source():
    from molcryst.datasets import DATASETS, load_dataset
    from molcryst.training import TrainConfig
    from molcryst.cli import main
    assert 'md17' in DATASETS
    with pytest.raises(ConfigError) as e: load_dataset('nosuch')
    with pytest.raises(ConfigError) as e2: TrainConfig(dataset='nosuch')
    import contextlib, io
    err = io.StringIO()
    with contextlib.redirect_stderr(err): assert main(['data', 'nosuch']) == 2
    for s in (str(e.value), str(e2.value), err.getvalue()):
        assert all(n in s for n in DATASETS), s


# ---- messages in the field's words ----
MORE_CIF_CASES = {
    'random_bytes': (bytes(np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8)), 'binary data', None),
    'random_text': (bytes(np.random.default_rng(1).integers(32, 127, 400, dtype=np.uint8)), 'no data_ block header: not a CIF', 'data_'),
    'cut_in_cell_block': (GOOD[:GOOD.index('_cell_length_b') + len('_cell_length_b ')].encode(), 'the file ends after _cell_length_b with no value', '_cell_length_b'),
    'cut_in_a_row': (GOOD[:GOOD.index('O1 O 0.5') + 6].encode(), "incomplete row ['O1', 'O', '0'] (3 of 6 values", 'loop_'),
    'unbalanced_quote': (GOOD.replace('Cu1 Cu', "'Cu1 Cu").encode(), 'unbalanced quotation mark', 'line 15'),
    'coordinate_text': (GOOD.replace('0.5 0.5 0.5 1.0', 'a 0.5 0.5 1.0').encode(), "coordinate 'a' is not a finite number", '_atom_site_fract_x'),
    'coordinate_nan': (GOOD.replace('0.5 0.5 0.5 1.0', '0.5 nan 0.5 1.0').encode(), "coordinate 'nan' is not a finite number", '_atom_site_fract_y'),
}


@pytest.mark.parametrize('case', sorted(MORE_CIF_CASES))
def test_cif_messages_say_what_is_wrong(tmp_path, case):
    data, msg, field = MORE_CIF_CASES[case]
    f = tmp_path / f'{case}.cif'; f.write_bytes(data)
    with pytest.raises(CIFError) as e: read_cif(f)
    s = str(e.value)
    assert s.startswith(str(f)) and msg in s, s
    assert 'AssertionError' not in s and 'IndexError' not in s and 'pop from empty list' not in s, s
    if field: assert field in s, s


def test_checkpoint_with_foreign_weights_names_them(tmp_path):
    from molcryst.pretrained import checkpoint_path
    from molcryst.training import load, safe_load
    ck = safe_load(checkpoint_path('schnet-qm9-homo'))
    sd = ck['state_dict']
    k0 = next(k for k in sd if k.startswith('backbone.') and sd[k].ndim == 2)
    sd['backbone.extra.weight'] = torch.zeros(2)
    sd[k0] = sd[k0][:, :3]
    del sd[next(k for k in sd if k.endswith('.bias') and k.startswith('backbone.'))]
    p = tmp_path / 'foreign.ckpt'; torch.save(ck, p)
    with pytest.raises(CheckpointError) as e: load(p)
    s = str(e.value)
    assert s.startswith(f'{p}: the weights do not match the model its config describes'), s
    assert '1 weights the model needs are not in the file' in s and '1 weights in the file belong to no layer of the model (backbone.extra.weight)' in s, s
    assert f'1 have another shape ({k0}: file ' in s, s


def test_xyz_with_nan_coordinates(tmp_path):
    from molcryst.training import predict
    f = tmp_path / 'nan.xyz'; f.write_text('2\n\nC 0 0 0\nH nan 0 1.1\n')
    with pytest.raises(DataError, match=r'nan.xyz: positions: non-finite position'):
        predict('schnet-qm9-homo', [f])
