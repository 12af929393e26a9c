"""Train the TorchMD-NET force fields shipped for the MD study (`nbs/40_md.ipynb`) and write their cards.

    python scripts/train_md_models.py [NAME ...] [--minutes M] [--resume] [--threads T] [--card-only]

Each model is TorchMD-NET's equivariant transformer trained on energies and forces of a shipped GFN2-xTB
trajectory (MD17 layout, 2,000 frames at 500 K) with `molcryst.training.fit`, on 1,000 training frames,
200 validation frames and the other 800 held out for the test metrics. The full config is recorded in the card
(`molcryst/data/pretrained/<name>.yaml`, the same format as `scripts/train_pretrained.py` writes) together with
the held-out energy and force errors; the checkpoint is exported without optimizer state so that
`molcryst.pretrained.load(name)` works offline. Runs go to `runs/pretrained/<name>`; `--resume` continues one.

The size (64 features, 4 layers) is chosen for the budget: on 2 shared CPU cores a 128×6 transformer (the MD17
settings of the TorchMD-NET paper) takes about 4.5× longer per step than the 64×4 one and manages only a handful
of epochs in 15 minutes. Two settings matter on a shared CPU: subnormal floats are flushed to zero (TorchMD-NET's
exp-normal radial basis and cosine cut-off produce them; flushing halves the step time) and torch uses one
thread (`--threads`; two threads on two busy cores were several times slower). The number of epochs is what
fits in 15 minutes there (uracil's 12 atoms have 1.8× the pairs of ethanol's 9), so the cosine schedule ends.

`tensornet-ethanol-xtb` is TensorNet (torchmd-net's recommended model since 2.x) trained with et-ethanol-xtb's
recipe for the same 30 epochs, for the side-by-side comparison in `benchmarks/md_backbones.py`.
"""
import argparse, datetime, json, platform
from pathlib import Path

import torch
import yaml

from molcryst.training import Run, TrainConfig, fit, export_checkpoint

OUT = Path(__file__).resolve().parents[1] / 'molcryst' / 'data' / 'pretrained'

ET = dict(embedding_dimension=64, num_layers=4, num_rbf=32, num_heads=8, cutoff=5.0)
TENSORNET = dict(hidden_channels=64, num_layers=2, num_rbf=32, cutoff=5.0)     # TensorNet's own depth (2), ET's width

def _config(source:str, epochs:int, backbone:str='torchmdnet', model_kwargs:dict=ET, minutes:float=15)->dict:
    return dict(dataset='md17', dataset_kwargs={'source': source}, targets=['energy'], backbone=backbone,
                model_kwargs=dict(model_kwargs), cutoff=5.0, split=[1000, 200, None], split_seed=0, batch_size=16,
                epochs=epochs, optimizer='adamw', learning_rate=1e-3, scheduler='cosine', forces_weight=0.99,
                loss='mse', max_minutes=minutes, seed=0)

MODELS = {
    'et-ethanol-xtb': dict(
        description='TorchMD-NET equivariant transformer (64 features, 4 layers, 5 Å) on energies and forces of the '
                    'shipped GFN2-xTB ethanol trajectory (500 K, 1,000 training frames), trained on 2 CPU cores; '
                    'energy in eV, forces in eV/Å',
        config=_config('ethanol', 30)),
    'et-uracil-xtb': dict(
        description='TorchMD-NET equivariant transformer (64 features, 4 layers, 5 Å) on energies and forces of the '
                    'shipped GFN2-xTB uracil trajectory (500 K, 1,000 training frames), trained on 2 CPU cores; '
                    'energy in eV, forces in eV/Å',
        config=_config('uracil', 18)),
    # the same data, split, loss, optimizer, schedule and 30 epochs as et-ethanol-xtb (epochs, not minutes, bound it):
    # the ET/TensorNet comparison of benchmarks/md_backbones.py
    'tensornet-ethanol-xtb': dict(
        description='TorchMD-NET TensorNet (64 features, 2 layers, 5 Å) on energies and forces of the shipped GFN2-xTB '
                    'ethanol trajectory (500 K, 1,000 training frames), trained on 2 CPU cores with the recipe of '
                    'et-ethanol-xtb; energy in eV, forces in eV/Å',
        config=_config('ethanol', 30, 'tensornet', TENSORNET, minutes=60)),
}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('names', nargs='*', default=list(MODELS))
    p.add_argument('--minutes', type=float, default=None, help='override the time budget of each model')
    p.add_argument('--resume', action='store_true')
    p.add_argument('--threads', type=int, default=1, help='torch CPU threads (default 1)')
    p.add_argument('--card-only', action='store_true', help='no training: export the checkpoint and write the card of a finished run')
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    for name in a.names:
        spec = MODELS[name]
        cfg = dict(spec['config'], run_dir=f'runs/pretrained/{name}')
        if a.minutes: cfg['max_minutes'] = a.minutes
        if a.card_only: run = Run.from_dir(cfg['run_dir'])
        else: run = fit(TrainConfig.from_dict(cfg), resume=a.resume, overwrite=not a.resume, progress=False)
        OUT.mkdir(parents=True, exist_ok=True)
        export_checkpoint(run.best_checkpoint, OUT / f'{name}.ckpt', run.metrics)
        card = dict(name=name, description=spec['description'], config=run.config.to_dict(),
                    metrics={s: run.metrics[s] for s in ('val', 'test')},
                    epochs=run.metrics['epochs'], train_size=run.metrics['train_size'], seconds=run.metrics['seconds'],
                    trained=datetime.date.today().isoformat(), torch=str(torch.__version__), machine=platform.machine(),
                    threads=torch.get_num_threads(), flush_denormal=True)
        card['config']['run_dir'] = None
        (OUT / f'{name}.yaml').write_text(yaml.safe_dump(card, sort_keys=False))
        print(name, json.dumps(run.metrics['test']))

if __name__ == '__main__': main()
