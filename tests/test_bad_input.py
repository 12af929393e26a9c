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
