#!/usr/bin/env bash
# The README's first command: set up, then run the main job on the embedded default data
# (all 130,831 QM9 molecules from qm9pack -> cached graphs at 5 Å, and a summary).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
molcryst data qm9 --cutoff 5.0 "$@"
