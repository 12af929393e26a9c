#!/usr/bin/env bash
# GPU readiness check (benchmarks/gpu_check.py): on a CUDA machine the GPU table within 10 minutes; elsewhere, and with
# --quick, its CPU half (CI runs `bash benchmarks/gpu_check.sh --quick`). Sets up the environment first, as the README's commands do.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
exec python benchmarks/gpu_check.py "$@"
