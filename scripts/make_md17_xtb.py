"""Make the GFN2-xTB trajectories shipped in molcryst/data (MD17 .npz layout, eV).

    OMP_NUM_THREADS=1 python scripts/make_md17_xtb.py [ethanol uracil] [--out molcryst/data]

Every setting is below and is also stored in each file (`temperature_K`, `timestep_fs`, `every`,
`friction_per_fs`, `seed`, `equilibration_steps`, `software`). The same settings, seed and package
versions give the same file; tblite's OpenMP reductions may differ in the last bits across thread counts,
which is one reason the script runs single-threaded (the other: for molecules this small one thread is fastest).
"""
import os
os.environ.setdefault('OMP_NUM_THREADS', '1')   # before numpy/torch/tblite load their OpenMP runtime

import argparse, logging, time
from pathlib import Path

import numpy as np

SETTINGS = dict(n_frames=2000, every=10, temperature_K=500.0, timestep_fs=0.5, friction=0.01,
                equilibration_steps=1000, seed=0)
SMILES = {'uracil': 'O=C1C=CNC(=O)N1'}
RDKIT_SEED = 42


def start_geometry(name: str):
    "ethanol from ase.build's G2 set; uracil (not in G2) from SMILES with RDKit ETKDG + MMFF, fixed seed."
    from ase import Atoms
    if name == 'ethanol':
        from ase.build import molecule
        return molecule('CH3CH2OH')
    from rdkit import Chem
    from rdkit.Chem import AllChem
    mol = Chem.AddHs(Chem.MolFromSmiles(SMILES[name]))
    params = AllChem.ETKDGv3(); params.randomSeed = RDKIT_SEED
    if AllChem.EmbedMolecule(mol, params) != 0: raise RuntimeError(f'RDKit could not embed {name}')
    if AllChem.MMFFOptimizeMolecule(mol, maxIters=2000) != 0: raise RuntimeError(f'MMFF did not converge for {name}')
    pos = mol.GetConformer().GetPositions()
    return Atoms(numbers=[a.GetAtomicNum() for a in mol.GetAtoms()], positions=pos - pos.mean(0))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('molecules', nargs='*', default=['ethanol', 'uracil'])
    ap.add_argument('--out', default=str(Path(__file__).resolve().parents[1] / 'molcryst' / 'data'))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    from molcryst.md17 import generate_xtb_trajectory
    print(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} settings={SETTINGS}")
    for name in args.molecules:
        atoms = start_geometry(name)
        out = Path(args.out) / f'md17_{name}_xtb.npz'
        t = time.perf_counter()
        generate_xtb_trajectory(atoms, out, **SETTINGS)
        dt = time.perf_counter() - t
        steps = SETTINGS['equilibration_steps'] + SETTINGS['n_frames'] * SETTINGS['every']
        with np.load(out) as d: E = d['E'][:, 0]
        print(f'{name}: {len(atoms)} atoms, {steps} steps in {dt:.1f} s = {1e3 * dt / steps:.2f} ms/step; '
              f'{out} {out.stat().st_size / 2**20:.2f} MiB; E mean {E.mean():.4f} eV, std {E.std():.4f} eV')


if __name__ == '__main__':
    main()
