"""Train the small checkpoints shipped in `molcryst/data/pretrained/` and write their cards.

    python scripts/train_pretrained.py [NAME ...] [--minutes M] [--resume]

Each model is trained with `molcryst.training.fit` from the config below (recorded in the card with the test
metrics), then exported without optimizer state. Runs go to `runs/pretrained/<name>`; `--resume` continues one.
"""
import argparse, datetime, json, platform
from pathlib import Path

import torch
import yaml

from molcryst.training import TrainConfig, fit, export_checkpoint

OUT = Path(__file__).resolve().parents[1] / 'molcryst' / 'data' / 'pretrained'

MODELS = {
    'schnet-qm9-homo': dict(
        description='SchNet (128 features, 6 interactions, 5 Å) on QM9 HOMO (eV), trained on 2 CPU cores',
        config=dict(dataset='qm9', targets=['homo'], backbone='schnet', cutoff=5.0, split=[110000, 10000, None],
                    batch_size=32, epochs=200, optimizer='adamw', learning_rate=5e-4, scheduler='plateau',
                    max_minutes=30)),
    'cgcnn-coremof-vf': dict(
        description='CGCNN (paper defaults, 12 neighbours within 8 Å) on CoRE MOF 2019-ASR void fraction (Zeo++), trained on 2 CPU cores',
        config=dict(dataset='coremof', targets=['AV_VF'], backbone='cgcnn', cutoff=8.0,
                    dataset_kwargs=dict(max_atoms=500), split=[0.8, 0.1, 0.1], batch_size=64, epochs=200,
                    optimizer='adamw', learning_rate=1e-3, scheduler='plateau', max_minutes=20)),
}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('names', nargs='*', default=list(MODELS))
    p.add_argument('--minutes', type=float, default=None, help='override the time budget of each model')
    p.add_argument('--resume', action='store_true')
    a = p.parse_args(argv)
    for name in a.names:
        spec = MODELS[name]
        cfg = dict(spec['config'], run_dir=f'runs/pretrained/{name}')
        if a.minutes: cfg['max_minutes'] = a.minutes
        run = fit(TrainConfig.from_dict(cfg), resume=a.resume, overwrite=not a.resume, progress=False)
        OUT.mkdir(parents=True, exist_ok=True)
        export_checkpoint(run.best_checkpoint, OUT / f'{name}.ckpt', run.metrics)
        card = dict(name=name, description=spec['description'], config=run.config.to_dict(),
                    metrics={s: run.metrics[s] for s in ('val', 'test')},
                    epochs=run.metrics['epochs'], train_size=run.metrics['train_size'], seconds=run.metrics['seconds'],
                    trained=datetime.date.today().isoformat(), torch=str(torch.__version__), machine=platform.machine(),
                    threads=torch.get_num_threads())
        card['config']['run_dir'] = None
        (OUT / f'{name}.yaml').write_text(yaml.safe_dump(card, sort_keys=False))
        print(name, json.dumps(run.metrics['test']))

if __name__ == '__main__': main()
