"""Train the small checkpoints shipped in `molcryst/data/pretrained/` and write their cards.

    python scripts/train_pretrained.py [NAME ...] [--minutes M] [--resume]
    python scripts/train_pretrained.py NAME --from-run DIR      # export a finished run of the same config
    python scripts/train_pretrained.py schnet-qm9-homo-ensemble  # a seed ensemble (molcryst/data/pretrained/ensembles/)

Each model is trained with `molcryst.training.fit` from the config below (recorded in the card with the test
metrics), then exported without optimizer state. Runs go to `runs/pretrained/<name>`; `--resume` continues one.
`--from-run` exports a run made elsewhere (e.g. by `benchmarks/accuracy.py`) after checking that its config equals
the one below in every field but the folder and the budget (`max_minutes`, `epochs`, `epoch_size`); the card
records the run's own config.
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
        description='CGCNN (paper sizes, 12 neighbours within 8 Å, volume readout) on CoRE MOF 2019-ASR void fraction (Zeo++)',
        config=dict(dataset='coremof', targets=['AV_VF'], backbone='cgcnn', cutoff=8.0, model_kwargs=dict(readout='volume'),
                    dataset_kwargs=dict(max_atoms=500), split=[0.8, 0.1, 0.1], batch_size=16, epochs=200,
                    optimizer='adamw', learning_rate=1e-3, scheduler='plateau', max_minutes=20)),
}

# seed ensembles: `fit_ensemble` on one split; each member exported, the card holds the conformal factors fitted on the
# pooled validation predictions and the coverage they reach on the test split
ENSEMBLES = {
    'schnet-qm9-homo-ensemble': dict(
        description='Five SchNet seeds (medium preset: 64 features, 3 interactions, 5 Å) on QM9 HOMO (eV), 3 minutes of one '
                    'CPU core each; conformal intervals calibrated on the 10,000 validation molecules',
        seeds=5,
        config=dict(dataset='qm9', targets=['homo'], backbone='schnet', model_preset='medium', cutoff=5.0,
                    split=[110000, 10000, None], batch_size=32, epochs=200, epoch_size=20000, optimizer='adamw',
                    learning_rate=5e-4, scheduler='plateau', max_minutes=3)),
}

def train_ensemble(name:str, a)->None:
    "Train (or resume) a shipped ensemble and write its members and card."
    from molcryst.ensembles import fit_ensemble
    from molcryst.pretrained import ENSEMBLES_DIR
    spec = ENSEMBLES[name]
    cfg = dict(spec['config'], run_dir=f'runs/pretrained/{name}')
    if a.minutes: cfg['max_minutes'] = a.minutes
    ens = fit_ensemble(TrainConfig.from_dict(cfg), seeds=spec['seeds'], resume=a.resume, overwrite=not a.resume, progress=False)
    ENSEMBLES_DIR.mkdir(parents=True, exist_ok=True)
    members = []
    for r in ens.runs:
        f = f'{name}-seed{r.config.seed}.ckpt'
        export_checkpoint(r.best_checkpoint, ENSEMBLES_DIR / f, r.metrics); members.append(f)
    t = ens.targets[0]
    m = ens.metrics().reset_index().to_dict('records')
    cov = ens.coverage_table(t).reset_index()
    card = dict(name=name, kind='ensemble', description=spec['description'], config=dict(ens.runs[0].config.to_dict(), run_dir=None, seed=None),
                seeds=[r.config.seed for r in ens.runs], members=members,
                metrics=[{k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in row.items()} for row in m],
                members_test_mae={t: [round(r.metrics['test'][t]['mae'], 6) for r in ens.runs]},
                coverage_test={t: [{k: round(float(v), 4) for k, v in row.items()} for row in cov.to_dict('records')]},
                conformal_q={tt: {c: round(q, 5) for c, q in v.items()} for tt, v in ens.conformal_table().items()},
                val_size=len(ens.val_predictions), test_size=len(ens.predictions),
                epochs=[r.metrics['epochs'] for r in ens.runs], train_size=ens.runs[0].metrics['train_size'],
                seconds=round(sum(r.metrics['seconds'] for r in ens.runs), 1),
                trained=datetime.date.today().isoformat(), torch=str(torch.__version__), machine=platform.machine(),
                threads=ens.runs[0].metrics.get('threads', torch.get_num_threads()))
    (ENSEMBLES_DIR / f'{name}.yaml').write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    print(name, json.dumps(card['metrics']), json.dumps(card['coverage_test']))

BUDGET = ('run_dir', 'max_minutes', 'epochs', 'epoch_size')

def finished_run(run_dir:Path, spec:dict):
    "A finished run's config, metrics and best checkpoint, after checking that it was trained from `spec`'s config."
    from types import SimpleNamespace
    best, mfile = run_dir / 'checkpoints' / 'best.ckpt', run_dir / 'metrics.json'
    for f in (run_dir / 'config.yaml', mfile, best):
        if not f.is_file(): raise SystemExit(f'{f}: missing; --from-run needs a finished run of molcryst.training.fit')
    cfg = TrainConfig.from_yaml(run_dir / 'config.yaml')
    want = TrainConfig.from_dict(spec['config']).to_dict()
    diff = {k: (v, want[k]) for k, v in cfg.to_dict().items() if k not in BUDGET and v != want[k]}
    if diff: raise SystemExit(f'{run_dir}/config.yaml differs from the model\'s config: ' + ', '.join(f'{k}: {v!r} (want {w!r})' for k, (v, w) in diff.items()))
    if best.stat().st_mtime > mfile.stat().st_mtime:
        raise SystemExit(f'{best} is newer than {mfile}: the run did not finish; resume it first')
    return SimpleNamespace(config=cfg, metrics=json.loads(mfile.read_text()), best_checkpoint=best)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('names', nargs='*', default=list(MODELS), help=f'models ({", ".join(MODELS)}) or ensembles ({", ".join(ENSEMBLES)})')
    p.add_argument('--minutes', type=float, default=None, help='override the time budget of each model')
    p.add_argument('--resume', action='store_true')
    p.add_argument('--from-run', type=Path, default=None, help='export this finished run instead of training (one NAME)')
    a = p.parse_args(argv)
    if a.from_run and len(a.names) != 1: p.error('--from-run takes exactly one NAME')
    for name in a.names:
        if name in ENSEMBLES:
            if a.from_run: p.error('--from-run exports single models, not ensembles')
            train_ensemble(name, a); continue
        spec = MODELS[name]
        if a.from_run: run = finished_run(a.from_run, spec)
        else:
            cfg = dict(spec['config'], run_dir=f'runs/pretrained/{name}')
            if a.minutes: cfg['max_minutes'] = a.minutes
            run = fit(TrainConfig.from_dict(cfg), resume=a.resume, overwrite=not a.resume, progress=False)
        OUT.mkdir(parents=True, exist_ok=True)
        export_checkpoint(run.best_checkpoint, OUT / f'{name}.ckpt', run.metrics)
        card = dict(name=name, description=spec['description'], config=run.config.to_dict(),
                    metrics={s: run.metrics[s] for s in ('val', 'test')},
                    epochs=run.metrics['epochs'], train_size=run.metrics['train_size'], seconds=run.metrics['seconds'],
                    trained=datetime.date.today().isoformat(), torch=str(torch.__version__), machine=platform.machine(),
                    threads=run.metrics.get('threads', torch.get_num_threads()))   # the run's own (--from-run: not this process's)
        card['config']['run_dir'] = None
        (OUT / f'{name}.yaml').write_text(yaml.safe_dump(card, sort_keys=False))
        print(name, json.dumps(run.metrics['test']))

if __name__ == '__main__': main()
