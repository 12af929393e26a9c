"""Record in each shipped checkpoint the elements of its training split (`hyper_parameters.elements`), which
`molcryst predict` uses to flag structures with elements the model never saw. Checkpoints trained since `fit`
records them carry them already; this reproduces the training split of the older ones from their cards (records
only, no graphs; CoRE MOF read as it was then: occupancies ignored, no distance check) and rewrites them in place.
Usage: python scripts/pretrained_elements.py"""
import json, warnings, numpy as np, yaml, sys
warnings.filterwarnings('ignore')
from molcryst.datamodule import split_indices
from molcryst.pretrained import PRETRAINED_DIR
out = {}
for card in sorted(PRETRAINED_DIR.glob('*.yaml')):
    c = yaml.safe_load(card.read_text())['config']
    if c['dataset'] == 'qm9':
        from molcryst.datasets import read_qm9pack
        zs = [np.unique(r.z) for r in read_qm9pack(limit=c['dataset_kwargs'].get('limit'))]
    elif c['dataset'] == 'md17':
        from molcryst.md17 import MD17
        ds = MD17(**c['dataset_kwargs'], progress=False)
        p = ds.store['atom_ptr']; zs = [np.unique(ds.store['z'][p[i]:p[i+1]].numpy()) for i in range(len(ds))]
    elif c['dataset'] == 'coremof':
        from molcryst.datasets import coremof_dir, coremof_table, _coremof_natoms, read_cif
        kw = c['dataset_kwargs']
        df = coremof_table(); folder = coremof_dir(progress=False)
        df = df[np.isfinite(df[['AV_VF']].to_numpy(np.float64)).all(1)]
        nat = _coremof_natoms(folder, df['filename'], progress=False)
        df = df[nat <= kw['max_atoms']]
        names = df['filename'].tolist()
        zs = None
    n = len(zs) if zs is not None else len(names)
    tr = split_indices(n, c['split'], c['split_seed'])['train']
    if zs is None:
        zs = [np.unique(read_cif(folder / f'{names[i]}.cif', occupancy='ignore', min_distance=0).numbers) for i in tr]; tr = range(len(zs))
    el = sorted(set(np.concatenate([zs[i] for i in tr]).tolist()))
    out[card.stem] = dict(n=n, n_train=len(tr), elements=el)
    print(card.stem, out[card.stem], flush=True)
import torch
from molcryst.core import atomic_write
from molcryst.training import safe_load
for name, v in out.items():
    p = PRETRAINED_DIR / f'{name}.ckpt'
    ck = safe_load(p)
    ck['hyper_parameters']['elements'] = v['elements']
    with atomic_write(p) as f: torch.save(ck, f)
    print(f"{p.name}: {len(v['elements'])} elements from {v['n_train']} training structures")
