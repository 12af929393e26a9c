"The shipped seed ensemble: its card, its intervals, and `molcryst predict --ensemble` on it (no network, no training)."
import subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

NAME = 'schnet-qm9-homo-ensemble'
MOLCRYST = str(Path(sys.executable).parent / 'molcryst')


def test_card_says_what_the_intervals_reach():
    from molcryst.pretrained import ensemble_card
    card = ensemble_card(NAME)
    assert len(card['member_files']) == len(card['seeds']) >= 5
    assert card['val_size'] == 10000 and card['test_size'] > 10000
    q = card['conformal_q']['homo']
    levels = sorted(q)
    assert levels[0] == 0.5 and levels[-1] == 0.99 and all(q[a] < q[b] for a, b in zip(levels, levels[1:]))
    for row in card['coverage_test']['homo']:
        # conformal: the nominal coverage on 10,000 new molecules (sampling error ~0.3 %); the raw Gaussian std: far below
        assert abs(row['conformal_coverage'] - row['nominal']) < 0.03, row
        assert row['gaussian_coverage'] < row['conformal_coverage'], row
        assert row['conformal_q'] == pytest.approx(q[row['nominal']], rel=1e-3)
    m = card['metrics'][0]
    assert m['mae_ensemble'] <= m['mae_members'] and np.mean(card['members_test_mae']['homo']) == pytest.approx(m['mae_members'], rel=1e-4)


def test_shipped_ensemble_predicts_with_intervals():
    from molcryst.ensembles import load_ensemble
    em = load_ensemble(NAME)
    a, b = em.predict(['CCO', 'c1ccccc1', 'CC(=O)O'], coverage=0.5), em.predict(['CCO', 'c1ccccc1', 'CC(=O)O'], coverage=0.95)
    assert np.isfinite(a.homo).all() and (a.homo_std > 0).all() and a.in_domain.all()
    assert (a.homo.between(-12, -4)).all(), a.homo                     # HOMO energies of small organics, eV
    np.testing.assert_allclose(a.homo, b.homo)
    assert ((b.homo_upper - b.homo_lower) > (a.homo_upper - a.homo_lower)).all()
    assert (a.homo_lower < a.homo).all() and (a.homo < a.homo_upper).all()


def test_cli_predict_ensemble_writes_the_interval_columns(tmp_path):
    out = tmp_path / 'p.csv'
    r = subprocess.run([MOLCRYST, 'predict', '--ensemble', NAME, 'CCO', 'CCN', '--coverage', '0.8',
                        '--out', str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(out)
    assert list(df.columns[:7]) == ['name', 'formula', 'n_atoms', 'homo', 'homo_std', 'homo_lower', 'homo_upper'] and len(df) == 2
    r = subprocess.run([MOLCRYST, 'predict', NAME, 'CCO'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and '--ensemble' in r.stderr, r.stderr[-2000:]
