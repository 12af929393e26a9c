#!/usr/bin/env bash
# Set up molcryst on a fresh machine: a venv (unless one is active), torch first, then the package with its dev extra.
# Sourced by scripts/main.sh and scripts/test.sh; idempotent (skips pip when settings.ini and setup.py are unchanged).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
PY=python
stamp="$VIRTUAL_ENV/.molcryst-installed"
want="$(cat settings.ini setup.py | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! $PY -c "import molcryst, torch" 2>/dev/null; then
  # torch first: 2.13.0 is the CPU wheel on this disk; a bare `torch` requirement with no torch installed
  # would pull a multi-GB CUDA build. Keep an already installed torch that satisfies setup.py's range.
  if ! $PY -c "import torch, sys; v=tuple(map(int, torch.__version__.split('+')[0].split('.')[:2])); sys.exit(0 if (2,4)<=v<(2,15) else 1)" 2>/dev/null; then
    $PY -m pip install -q "torch==2.13.0"
  fi
  $PY -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
export PATH="$VIRTUAL_ENV/bin:$PATH"
