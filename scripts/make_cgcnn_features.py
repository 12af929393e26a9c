"""Build molcryst/data/cgcnn_atom_features.json: CGCNN's one-hot physical atom features (Xie & Grossman 2018, SI Table S2).

Nine properties, each one-hot: group (1-18), period (1-9), electronegativity (Pauling, 0.5-4.0, 10 bins), covalent
radius (25-250 pm, 10 bins), valence electrons (1-12), first ionisation energy (log eV, 1.3-3.3, 10 bins), electron
affinity (-3 to 3.7 eV, 10 bins), block (s, p, d, f) and atomic volume (log cm3/mol, 1.5-4.3, 10 bins): 93 features.
A property missing for an element leaves its block of the vector zero. Source of element data: pymatgen and ase.data.
Run: python scripts/make_cgcnn_features.py   (needs the dev extra: pymatgen)
"""
import json, math, warnings
from pathlib import Path
import numpy as np
from ase.data import covalent_radii

warnings.filterwarnings('ignore')
from pymatgen.core.periodic_table import Element

OUT = Path(__file__).resolve().parent.parent / 'molcryst' / 'data' / 'cgcnn_atom_features.json'


def onehot(value, lo, hi, n):
    v = np.zeros(n)
    if value is None or not math.isfinite(value): return v
    k = int(np.clip(np.floor((value - lo) / (hi - lo) * n), 0, n - 1))
    v[k] = 1
    return v


def cat(value, n):
    v = np.zeros(n)
    if value is not None and 1 <= value <= n: v[int(value) - 1] = 1
    return v


def safe(f):
    try:
        x = f()
        return None if x is None else float(x)
    except Exception:
        return None


def features(z):
    el = Element.from_Z(z)
    group, period, block = el.group, el.row, el.block
    if block == 's' or block == 'p': valence = group if group <= 2 else group - 10
    elif block == 'd': valence = group
    else: valence = 3
    ie = safe(lambda: el.ionization_energies[0])
    vol = safe(lambda: el.molar_volume)
    return np.concatenate([
        cat(group, 18), cat(period, 9),
        onehot(safe(lambda: el.X), 0.5, 4.0, 10),
        onehot(covalent_radii[z] * 100, 25, 250, 10),
        cat(min(valence, 12), 12),
        onehot(math.log(ie) if ie else None, 1.3, 3.3, 10),
        onehot(safe(lambda: el.electron_affinity), -3.0, 3.7, 10),
        np.array([block == b for b in 'spdf'], float),
        onehot(math.log(vol) if vol else None, 1.5, 4.3, 10),
    ])


if __name__ == '__main__':
    table = {z: features(z).astype(int).tolist() for z in range(1, 101)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(table, separators=(',', ':')))
    print(f'wrote {OUT}: {len(table)} elements x {len(table[1])} features')
