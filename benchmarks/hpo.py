"""CBO against random search at a small budget, repeated over search seeds; prints the tables and writes them as markdown.

    .venv/bin/python benchmarks/hpo.py                          # 3 repeats x 2 methods x 10 trials (PhysNet, QM9 ZPVE, 300 molecules)
    .venv/bin/python benchmarks/hpo.py --repeats 5 --max-evals 20 --max-epochs 5
    .venv/bin/python benchmarks/hpo.py --repeats 2 --max-evals 4 --limit 120    # quick check

Every search gets the same base config (data, split, backbone, weights seed); only the search seed changes between
repeats, and both methods get the same seed in a repeat. The order of the two methods alternates between repeats so
that a drift in machine load does not favour one of them (trial time is reported, not compared). The verdict is
read from medians over repeats of each search's best validation loss; with 3 repeats it is a direction, not a test.
Tables are printed and written to benchmarks/results/hpo.md (git-ignored; --out to change).
"""
import argparse, os, platform, sys, tempfile, time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=3, help='searches per method, seeds first-seed.. (default 3)')
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--max-evals', type=int, default=10, help='trials per search (default 10)')
    p.add_argument('--max-epochs', type=int, default=3, help='epochs searched in [1, N] (default 3); 0 keeps the space\'s range')
    p.add_argument('--limit', type=int, default=300, help='molecules (default 300)')
    p.add_argument('--dataset', default='qm9')
    p.add_argument('--target', default='zpve')
    p.add_argument('--backbone', default='physnet')
    p.add_argument('--full-size', action='store_true', help="the backbone's paper size instead of the small one")
    p.add_argument('--space', default='small', help="'small' (default), 'paper' or a YAML file")
    p.add_argument('--objective', default='val_loss', choices=('val_loss', 'val_mae'))
    p.add_argument('--early-stop', default='none', choices=('none', 'sha', 'median'))
    p.add_argument('--evaluator', default='serial')
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--log-dir', default=None, help='keep the searches here (default: a temporary folder, removed)')
    p.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'hpo.md'))
    return p.parse_args()


def md(df, **kw):
    "A markdown table (plain text when tabulate is not installed)."
    try: return df.to_markdown(floatfmt='.4g', **kw)
    except ImportError: return '```\n' + df.to_string(float_format=lambda x: f'{x:.4g}', **kw) + '\n```'


def loadavg():
    try: return ' / '.join(f'{x:.1f}' for x in os.getloadavg())
    except OSError: return '?'


def main():
    a = parse()
    from molcryst.training import TrainConfig
    from molcryst.hpo import load_space, tune, compare
    import torch
    cfg = TrainConfig(dataset=a.dataset, targets=[a.target], backbone=a.backbone,
                      model_preset='paper' if a.full_size else 'small', dataset_kwargs={'limit': a.limit} if a.limit else {})
    sp = load_space(a.space).to_dict()
    if a.max_epochs: sp['epochs'] = {'range': [1, a.max_epochs]} if a.max_epochs > 1 else {'value': 1}
    sp = load_space(sp).check(cfg)
    tmp = None
    if a.log_dir: root = Path(a.log_dir)
    else: tmp = tempfile.TemporaryDirectory(prefix='hpo-bench-'); root = Path(tmp.name)
    head = [f'# CBO vs random search: {a.repeats} repeats x {a.max_evals} trials',
            '', f'{time.strftime("%Y-%m-%d %H:%M")}, {platform.node()}, {len(os.sched_getaffinity(0))} cores, torch {torch.__version__} '
            f'({torch.get_num_threads()} threads), load average at start {loadavg()}',
            f'base: {a.backbone}{"" if a.full_size else " (small)"} on {a.dataset} {a.target}, {a.limit or "all"} structures, split 0.8/0.1/0.1; '
            f'objective {a.objective}; early stop {a.early_stop}; evaluator {a.evaluator} x {a.workers}',
            'space: ' + ', '.join(f'{k} {h.describe()}' for k, h in sp.params.items()), '']
    print('\n'.join(head), flush=True)
    results = {'CBO': [], 'random': []}
    rows = []
    t_all = time.perf_counter()
    for r in range(a.repeats):
        seed = a.first_seed + r
        order = [('CBO', 'cbo'), ('random', 'random')]
        if r % 2: order.reverse()
        for label, method in order:
            t0 = time.perf_counter()
            res = tune(cfg, space=sp, max_evals=a.max_evals, method=method, log_dir=root / f'{method}-seed{seed}', overwrite=True,
                       objective=a.objective, early_stop=None if a.early_stop == 'none' else a.early_stop,
                       evaluator=a.evaluator, workers=a.workers, search_seed=seed, progress=False)
            wall = time.perf_counter() - t0
            results[label].append(res)
            b = res.best
            row = res.results.loc[res.results.job_id == b['job_id']].iloc[0]
            mae = row.get(f'm:val_mae_{a.target}', np.nan)
            l = res.losses.dropna()
            rows.append(dict(seed=seed, method=label, best=b['loss'], best_val_mae=mae, best_trial=b['job_id'] + 1,
                             median_trial=l.median(), failed=int(res.losses.isna().sum()), wall_s=round(wall, 1)))
            print(f"seed {seed} {label:>6}: best {a.objective} {b['loss']:.4g} (trial {b['job_id'] + 1}/{a.max_evals}, "
                  f"val MAE {mae:.4g}), median trial {l.median():.4g}, {rows[-1]['failed']} failed, {wall:.0f} s", flush=True)
    per = pd.DataFrame(rows)
    wide = per.pivot(index='seed', columns='method', values='best')
    wide['CBO better'] = wide['CBO'] < wide['random']
    cmp = compare(results)
    mae = per.groupby('method').best_val_mae.median()
    summary = pd.DataFrame({
        'searches': cmp['searches'], 'median best': cmp['best_median'], 'min best': cmp['best_min'], 'max best': cmp['best_max'],
        f'median best val MAE ({a.target})': mae, 'median of all trials': cmp['median'], 'std of all trials': cmp['std'],
        'failed trials': cmp['failed'], 'median trial # of best': per.groupby('method').best_trial.median(),
        'wall s (all searches)': per.groupby('method').wall_s.sum()})
    wins = int(wide['CBO better'].sum())
    ratio = summary.loc['CBO', 'median best'] / summary.loc['random', 'median best']
    verdict = (f'CBO found the lower best loss in {wins} of {a.repeats} repeats; median best CBO / random = {ratio:.3f} '
               f'({"CBO lower" if ratio < 1 else "random lower" if ratio > 1 else "equal"}).')
    out = head + ['## Best loss per search', '', md(wide), '',
                  '## Summary (medians over repeats; "all trials" pools every trial of every repeat)', '',
                  md(summary.T), '', verdict, '',
                  f'total {time.perf_counter() - t_all:.0f} s; load average at end {loadavg()}', '', '## Every search', '',
                  md(per, index=False)]
    text = '\n'.join(out)
    print('\n' + '\n'.join(out[len(head):]))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text + '\n')
    print(f'\nwritten to {a.out}')
    if tmp: tmp.cleanup()


if __name__ == '__main__':
    main()
