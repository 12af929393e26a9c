import os
import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    "Every test gets its own empty molcryst cache."
    monkeypatch.setenv('MOLCRYST_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    yield
