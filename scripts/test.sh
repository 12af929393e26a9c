#!/usr/bin/env bash
# The README's second command: set up, then run the notebook tests (nbdev_test) and the pytest suite.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export MPLBACKEND=Agg
# two notebooks (nbdev_test) or two test files (pytest-xdist) run at once on the two cores: one torch/OpenMP thread each,
# so that four threads do not fight over two cores (busy-waiting OpenMP threads slow each other down many times over)
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# headless Chromium for the docs screenshots (tests/test_docs.py skips those without it): Debian's package, when root
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${MOLCRYST_NO_APT:-}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || echo "could not install chromium: the docs screenshot tests will be skipped"
fi
echo "== nbdev_test (notebooks) =="
nbdev_test --path nbs --n_workers 2
echo "== pytest (tests/) =="
# two worker processes (pytest-xdist), each test file on one of them (tests in a file share fixtures and order);
# MOLCRYST_TEST_WORKERS=0 runs them in this process
python -m pytest tests -q -p no:cacheprovider -n "${MOLCRYST_TEST_WORKERS:-2}" --dist loadfile "$@"
