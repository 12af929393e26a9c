"""Accuracy at a fixed CPU budget, and training throughput through the full Lightning loop.

    python benchmarks/accuracy.py                       # everything at the issue's budgets (hours on 2 cores)
    python benchmarks/accuracy.py --minutes 10 --marks 2,5,10 --parts qm9
    python benchmarks/accuracy.py --parts throughput

Parts:
  qm9         SchNet, PhysNet, MPNN and MPNN-transformer on QM9 HOMO and ZPVE (110,000 training molecules), each with a
              wall-clock budget (default 60 min); validation MAE at the marks (default 10/30/60 min) and test MAE
              of the best checkpoint. Validation runs after every epoch; --epoch-size makes epochs shorter than the
              training set (consecutive slices of a stream of shuffles) so that short budgets have a learning curve.
              Goals: HOMO <= 0.09 eV, ZPVE <= 0.01 eV (the paper's best MPNN-transformer).
  coremof     CGCNN on CoRE MOF 2019-ASR void fraction (<= 500 atoms per cell), budget --mof-minutes (default 20)
              per readout: 'volume' (atom contributions per cell volume, molcryst) and 'mean' (the paper's CGCNN).
              Goals: MAE <= 0.02, R2 >= 0.93.
  throughput  SchNet (128 x 6, 5 A) training graphs/s on 1,000 QM9 molecules through `molcryst.training.fit`
              (Lightning: loader, normalisation, logging, validation excluded) against PyG's SchNet in a bare
              PyTorch loop on the same graphs, alternating in one process.
Runs go to benchmarks/results/accuracy/<name>; --resume continues interrupted ones. Prints markdown tables.
"""
import argparse, json, os, statistics, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / 'results' / 'accuracy'
GOALS = {'homo': 0.09, 'zpve': 0.01}

def qm9_runs(a):
    from molcryst.training import TrainConfig, fit
    marks = [float(m) for m in a.marks.split(',')]
    rows = []
    for backbone in a.backbones.split(','):
        for target in a.targets.split(','):
            cfg = TrainConfig(dataset='qm9', targets=[target], backbone=backbone, cutoff=5.0, split=[110000, 10000, None],
                              batch_size=a.batch_size, epochs=200, optimizer='adamw', learning_rate=a.lr, epoch_size=a.epoch_size,
                              scheduler='plateau', max_minutes=a.minutes, compile=a.compile,
                              run_dir=str(RESULTS / f'qm9-{target}-{backbone}{"-compile" if a.compile else ""}'))
            print(f'== {backbone} on {target}: {a.minutes} min', flush=True)
            run = fit(cfg, resume=a.resume, overwrite=not a.resume, progress=False)
            h = run.history
            row = dict(backbone=backbone + (' (compile)' if a.compile else ''), target=target, epochs=run.metrics['epochs'],
                       graphs_per_s=round(statistics.median(h.train_graphs_per_s.dropna()), 1))
            for m in marks:
                done = h[h.elapsed_s <= m * 60 + 1]
                row[f'val MAE @{m:g} min'] = round(float(done[f'val_mae_{target}'].min()), 4) if len(done) else None
            row['test MAE'] = round(run.metrics['test'][target]['mae'], 4)
            row['goal'] = GOALS[target]; row['met'] = '✅' if row['test MAE'] <= GOALS[target] else '❌'
            row['epoch size'] = a.epoch_size or 110000
            rows.append(row); print(row, flush=True)
            if a.save_reference: save_qm9(a, row, h, target)
    return rows

def save_qm9(a, row, h, target):
    "Add the row (and its learning curve) to benchmarks/reference/accuracy-qm9.json; other runs' rows are kept."
    sys.path.insert(0, str(HERE))
    import report
    v = h.dropna(subset=[f'val_mae_{target}'])
    curve = [[round(float(t) / 60, 2), round(float(m), 5)] for t, m in zip(v.elapsed_s, v[f'val_mae_{target}'])]
    cols = ['backbone', 'target', 'epochs', 'epoch size', 'graphs_per_s'] + [c for c in row if c.startswith('val MAE @')] + ['test MAE', 'goal', 'met']
    report.save('accuracy-qm9', [row], cols, command=' '.join(['python', *sys.argv]), key=('backbone', 'target'),
                notes=['QM9, 110,000 training / 10,000 validation molecules, the rest for test; AdamW (lr '
                       f'{a.lr:g}), plateau schedule, batch {a.batch_size}, a wall-clock budget of {a.minutes:g} min per model '
                       'on one core (`OMP_NUM_THREADS=1 taskset -c N`); validation MAE (eV) at the marks, test MAE of the '
                       'best checkpoint (eV). Learning curves (minutes, validation MAE) per run are in the file.'],
                extra={'curves': {f'{row["backbone"]}/{target}': curve}})

def mof_dir(a, readout:str)->Path: return RESULTS / f'coremof-vf-cgcnn-{readout}-b{a.mof_batch_size}'

def coremof_run(a, readout:str):
    from molcryst.training import TrainConfig, fit
    cfg = TrainConfig(dataset='coremof', targets=['AV_VF'], backbone='cgcnn', cutoff=8.0, dataset_kwargs=dict(max_atoms=500),
                      model_kwargs=dict(readout=readout), batch_size=a.mof_batch_size, epochs=200, learning_rate=1e-3,
                      scheduler='plateau', max_minutes=a.mof_minutes, run_dir=str(mof_dir(a, readout)))
    print(f'== cgcnn ({readout} readout) on CoRE MOF void fraction: {a.mof_minutes} min', flush=True)
    run = fit(cfg, resume=a.resume, overwrite=not a.resume, progress=False)
    m = run.metrics['test']['AV_VF']
    row = dict(backbone='cgcnn', readout=readout, batch=a.mof_batch_size, target='void fraction', structures=run.metrics['train_size'],
               epochs=run.metrics['epochs'], minutes=a.mof_minutes, test_MAE=round(m['mae'], 4), test_R2=round(m['r2'], 3),
               met='✅' if m['mae'] <= 0.02 and m['r2'] >= 0.93 else '❌')
    print(row, flush=True)
    return row

def coremof_linear(run_dir:Path):
    "Baseline on the same split as the CGCNN runs: void fraction as a linear function of the element counts per Å³."
    import numpy as np
    from molcryst.datamodule import load_split
    from molcryst.datasets import CoREMOF
    st = CoREMOF('AV_VF', cutoff=8.0, max_atoms=500, progress=False).store
    z, y = st['z'].numpy(), st['y'].numpy()[:, 0].astype(np.float64)
    graph = np.repeat(np.arange(len(y)), np.diff(st['atom_ptr'].numpy()))
    X = np.zeros((len(y), int(z.max()) + 1)); np.add.at(X, (graph, z), 1.0)
    X = np.c_[np.ones(len(y)), X[:, X.sum(0) > 0] / np.abs(np.linalg.det(st['cell'].numpy().astype(np.float64)))[:, None]]
    split = load_split(run_dir / 'split.json')
    w = np.linalg.lstsq(X[split['train']], y[split['train']], rcond=None)[0]
    err = X[split['test']] @ w - y[split['test']]
    r2 = 1 - (err ** 2).sum() / ((y[split['test']] - y[split['test']].mean()) ** 2).sum()
    return dict(backbone='linear fit', readout='element counts / V', batch=None, target='void fraction', structures=len(split['train']),
                epochs=None, minutes=None, test_MAE=round(float(np.abs(err).mean()), 4), test_R2=round(float(r2), 3),
                met='✅' if np.abs(err).mean() <= 0.02 and r2 >= 0.93 else '❌')

def throughput(a):
    import torch
    sys.path.insert(0, str(HERE))
    from models import BatchEdges                          # the PyG stand-in for radius_graph (benchmarks/models.py)
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn.models import SchNet as PygSchNet
    from molcryst.datasets import QM9
    from molcryst.training import TrainConfig, fit
    ds = QM9('homo', limit=a.n_qm9, progress=False)
    kw = dict(hidden_channels=128, num_filters=128, num_interactions=6, cutoff=5.0)
    cfg = TrainConfig(dataset='qm9', targets=['homo'], dataset_kwargs=dict(limit=a.n_qm9, progress=False), backbone='schnet',
                      model_kwargs=dict(kw, num_rbf=50, readout='sum'), split=[0.8, 0.1, 0.1], batch_size=32, epochs=a.epochs,
                      scheduler='none', run_dir=str(RESULTS / 'throughput'))
    train_idx = None
    edges = BatchEdges()
    torch.manual_seed(0)
    pg = PygSchNet(**kw, num_gaussians=50, interaction_graph=edges, readout='add')
    opt = torch.optim.Adam(pg.parameters(), lr=1e-3)
    lightning, bare = [], []
    for r in range(a.repeats):
        run = fit(cfg, overwrite=True, progress=False)
        rates = run.history.train_graphs_per_s.dropna().tolist()[1:]     # first epoch is warm-up
        lightning.append(statistics.median(rates))
        if train_idx is None:
            split = json.loads((run.run_dir / 'split.json').read_text()); train_idx = split['train']
            batches = list(DataLoader(torch.utils.data.Subset(ds, train_idx), batch_size=32, shuffle=True,
                                      generator=torch.Generator().manual_seed(0)))
        times = []
        for e in range(a.epochs):
            t0 = time.perf_counter()
            for b in batches:
                edges.batch = b
                loss = (pg(b.z, b.pos, b.batch)[:, 0] - b.y[:, 0].float()).pow(2).mean()
                opt.zero_grad(); loss.backward(); opt.step()
            times.append(time.perf_counter() - t0)
        bare.append(len(train_idx) / statistics.median(times[1:] if len(times) > 1 else times))
        print(f'  round {r + 1}: molcryst fit {lightning[-1]:.1f} graphs/s, PyG SchNet bare loop {bare[-1]:.1f} graphs/s', flush=True)
    return dict(molcryst=statistics.median(lightning), pyg=statistics.median(bare), n=len(train_idx), rounds=a.repeats)

def table(rows):
    if not rows: return ''
    cols = list(rows[0])
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    out += ['| ' + ' | '.join('' if r.get(c) is None else str(r.get(c)) for c in cols) + ' |' for r in rows]
    return '\n'.join(out)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--parts', default='qm9,coremof,throughput')
    p.add_argument('--backbones', default='schnet,physnet,mpnn,mpnn_transformer')
    p.add_argument('--targets', default='homo,zpve')
    p.add_argument('--minutes', type=float, default=60.0, help='budget per QM9 model')
    p.add_argument('--marks', default='10,30,60', help='minutes at which validation MAE is reported')
    p.add_argument('--mof-minutes', type=float, default=20.0, help='coremof: budget per readout')
    p.add_argument('--mof-batch-size', type=int, default=64, help='coremof: batch size (the shipped cgcnn-coremof-vf: 16)')
    p.add_argument('--mof-readouts', default='volume,mean', help="coremof: CGCNN readouts to train ('volume', 'mean', 'sum')")
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--epoch-size', type=int, default=None, help='qm9: training molecules per epoch, i.e. between validations (default: all 110,000)')
    p.add_argument('--lr', type=float, default=5e-4)
    p.add_argument('--n-qm9', type=int, default=1000)
    p.add_argument('--epochs', type=int, default=3, help='throughput: epochs per round (first is warm-up)')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--resume', action='store_true')
    p.add_argument('--compile', action='store_true', help='qm9: train with TrainConfig.compile (compiling counts against the budget)')
    p.add_argument('--save-reference', action='store_true', help='qm9: add each finished run to benchmarks/reference/accuracy-qm9.json (committed)')
    a = p.parse_args(argv)
    import torch
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs')
    parts = a.parts.split(',')
    if 'throughput' in parts:
        r = throughput(a)
        print(f"\n### Training throughput, SchNet 128x6 on {r['n']} QM9 molecules (median of {r['rounds']} rounds)\n")
        print(table([dict(loop='molcryst `fit` (Lightning)', graphs_per_s=round(r['molcryst'], 1), ratio=round(r['molcryst'] / r['pyg'], 2)),
                     dict(loop='PyG `SchNet`, bare PyTorch loop', graphs_per_s=round(r['pyg'], 1), ratio=1.0)]))
    if 'qm9' in parts:
        rows = qm9_runs(a)
        print(f'\n### QM9 at {a.minutes:g} min per model ({torch.get_num_threads()} threads)\n'); print(table(rows))
    if 'coremof' in parts:
        rows = [coremof_run(a, r) for r in a.mof_readouts.split(',')]
        rows.append(coremof_linear(mof_dir(a, a.mof_readouts.split(',')[0])))
        print(f'\n### CGCNN on CoRE MOF void fraction ({torch.get_num_threads()} threads)\n'); print(table(rows))

if __name__ == '__main__': main()
