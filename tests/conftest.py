import os
import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    "Every test gets its own empty molcryst cache."
    monkeypatch.setenv('MOLCRYST_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    yield


@pytest.fixture(autouse=True)
def _cpu_state():
    "Process-wide CPU settings a test (or the library) changes are put back, so no result depends on test order."
    import torch
    from molcryst.core import denormals_flushed
    threads, flushed, dtype = torch.get_num_threads(), denormals_flushed(), torch.get_default_dtype()
    yield
    if torch.get_num_threads() != threads: torch.set_num_threads(threads)
    if denormals_flushed() != flushed: torch.set_flush_denormal(flushed)
    if torch.get_default_dtype() != dtype: torch.set_default_dtype(dtype)


NACL = """data_NaCl
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""


@pytest.fixture
def nacl_cif(tmp_path):
    "Rock-salt NaCl as a CIF file, `tmp_path/nacl.cif`."
    p = tmp_path / 'nacl.cif'
    p.write_text(NACL)
    return p
