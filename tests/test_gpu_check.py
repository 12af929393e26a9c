"""benchmarks/gpu_check.sh, the GPU readiness check, runs its CPU half (`--quick`): every backbone's forward/backward
(fp32, bf16; fp16 is CUDA's and skipped), energy+forces, one epoch of training, the MD calculator and `molcryst predict`
on each shipped model, with no failure."""
import os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_cpu_half(tmp_path):
    from molcryst.models import BACKBONES
    out = tmp_path / 'gpu_check.md'
    env = {**os.environ, 'CUDA_VISIBLE_DEVICES': ''}
    r = subprocess.run(['bash', str(ROOT / 'benchmarks' / 'gpu_check.sh'), '--quick', '--out', str(out)], capture_output=True, text=True,
                       timeout=900, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = [l.split(' | ') for l in out.read_text().splitlines() if l.startswith('| ') and not l.startswith('| check') and not l.startswith('|---')]
    status = {(c[0].strip('| '), c[1], c[2]): c[3] for c in rows}
    for name in BACKBONES:
        assert status[('forward+backward', name, 'fp32')] == 'ok' and status[('forward+backward', name, 'bf16')] == 'ok', name
        assert status[('forward+backward', name, 'fp16')] == 'skip', name          # on the CPU
        assert status[('energy+forces', name, 'fp32')] == 'ok' and status[('train 1 epoch', name, 'fp32')] == 'ok', name
    assert status[('MD steps/s', 'ethanol, compiled', 'fp32')] == 'ok'
    assert sum(1 for k, v in status.items() if k[0] == 'molcryst predict' and v == 'ok') >= 3
    assert 'FAIL' not in status.values()
    assert re.search(r'device cpu', out.read_text())
