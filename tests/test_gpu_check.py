"""`python -m benchmarks gpu --dry-run`: the GPU check's whole logic at tiny sizes on the CPU, so a broken
script is caught here rather than in the minutes of a lent GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_gpu_check_dry_run(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "gpu", "--dry-run", "--out", str(out), "--work", str(tmp_path / "w")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads((out / "figures.json").read_text())
    assert figures["dry_run"] and figures["throughput"]
    assert all(r["ours"] > 0 and r["bare"] > 0 for r in figures["throughput"])
    assert not [c for c in figures["checks"] if c["ok"] is False]
    checks = {c["check"] for c in figures["checks"]}
    assert any(c.startswith("evaluate lm") for c in checks) and any("SIGTERM + resume" in c for c in checks)
    assert "16-mixed" in figures["skipped"]
    assert "GPU check (DRY RUN" in (out / "report.md").read_text()
