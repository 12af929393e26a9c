#!/usr/bin/env bash
# The README's second command: set up, then run the notebook tests (nbdev_test) and the pytest suite.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export MPLBACKEND=Agg
echo "== nbdev_test (notebooks) =="
nbdev_test --path nbs --n_workers 2
echo "== pytest (tests/) =="
python -m pytest tests -q -p no:cacheprovider "$@"
