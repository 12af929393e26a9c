#!/usr/bin/env bash
# The README's first command: set up, then run the main job on the embedded default data:
# the training study (nbs/10_train.ipynb, SchNet on QM9 HOMO, 20,000 molecules, a 5-minute training budget)
# executed by papermill into runs/main/, with the checkpoint, metrics.json and predictions.csv beside it.
# Extra papermill options pass through, e.g. `bash scripts/main.sh -p backbone physnet`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# figures inline in the executed notebook (an Agg backend in the kernel would leave it without them)
export MPLBACKEND=module://matplotlib_inline.backend_inline
# the notebook's printed lines (the config, one line per epoch with the time left, the files written) stream to the
# terminal as it runs, and the stored notebook keeps them
mkdir -p runs/main
papermill nbs/10_train.ipynb runs/main/10_train.ipynb --cwd . --no-progress-bar --stdout-file /dev/stdout -p run_dir runs/main \
  -p limit 20000 -p epochs 40 -p max_minutes 5 "$@"
python - <<'PY'
import json
m = json.load(open('runs/main/metrics.json'))
for split in ('val', 'test'):
    for t, v in m[split].items():
        unit = 'eV/Å' if t == 'forces' else m['units'].get(t, '')
        print(f"{split:5s} {t:8s} MAE {v['mae']:.4f} {unit}  RMSE {v['rmse']:.4f}  R2 {v.get('r2', float('nan')):.3f}  (n={v['n']})")
print(f"{m['epochs']} epochs, {m['seconds']:.0f} s; notebook runs/main/10_train.ipynb, checkpoint runs/main/checkpoints/best.ckpt, metrics runs/main/metrics.json")
PY
