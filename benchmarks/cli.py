"""CLI start-up benchmark: wall time of `molcryst --help` and of each sub-command's `--help`, against
`python -c "import torch"` measured in the same run.

    .venv/bin/python benchmarks/cli.py                  # median of 5 per command (about a minute)
    .venv/bin/python benchmarks/cli.py --repeats 3

Prints a markdown table (and the CPU model from /proc/cpuinfo). Not a test: nothing here asserts; the
property that matters (no torch imported by a `--help`) is tests/test_cli_fast.py. Speed is read as a ratio
to `import torch` timed side by side, never as absolute seconds across machines.
"""
from __future__ import annotations
import argparse, os, platform, shutil, statistics, subprocess, sys, time
from pathlib import Path

COMMANDS = ('data', 'train', 'predict', 'tune', 'explain', 'md')


def cpu_model()->str:
    "The CPU model line of /proc/cpuinfo (or what `platform` knows)."
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()


def molcryst_exe()->list[str]:
    "The installed console script beside this Python, else the entry point through this Python."
    exe = shutil.which('molcryst', path=str(Path(sys.executable).parent)) or shutil.which('molcryst')
    return [exe] if exe else [sys.executable, '-c', 'import sys; from molcryst.cli import main; sys.exit(main())']


def wall(argv:list[str], repeats:int)->tuple[float, float]:
    "Median and min wall time (s) of `repeats` runs of `argv` (each a fresh process)."
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=5, help='runs per command (median reported; default 5)')
    a = p.parse_args(argv)
    exe = molcryst_exe()
    rows = [('python -c "import torch"', [sys.executable, '-c', 'import torch']), ('molcryst --help', exe + ['--help'])]
    rows += [(f'molcryst {c} --help', exe + [c, '--help']) for c in COMMANDS]
    print(f'CPU: {cpu_model()} ({os.cpu_count()} logical cores visible); Python {platform.python_version()}; '
          f'median of {a.repeats}\n')
    res = [(name, *wall(cmd, a.repeats)) for name, cmd in rows]
    torch_s = res[0][1]
    print('| command | median s | min s | × import torch |\n|---|---:|---:|---:|')
    for name, med, lo in res: print(f'| `{name}` | {med:.2f} | {lo:.2f} | {med / torch_s:.2f} |')


if __name__ == '__main__': main()
