"""`python -m benchmarks gpu --dry-run`: the GPU check's whole logic at tiny sizes on the CPU, so a broken
script is caught here rather than in the minutes of a lent GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks import gpu_precision
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
    # the clock stops at the last step: the final validation and checkpoints are timed apart
    assert all(r["after_last_step_s"] > 0 for r in figures["throughput"])
    assert not [c for c in figures["checks"] if c["ok"] is False]
    checks = {c["check"] for c in figures["checks"]}
    assert any(c.startswith("evaluate lm") for c in checks) and any("SIGTERM + resume" in c for c in checks)
    assert "16-mixed" in figures["skipped"]
    assert "GPU check (DRY RUN" in (out / "report.md").read_text()


def _row(precision: str, ours_end: float, bare_end: float, scales: list[float] = ()) -> dict:
    """A throughput row whose losses fall from 10 to `*_end` over 70 steps."""
    fall = [10.0 - i * 0.1 for i in range(65)]
    return {"model": "tagger", "precision": precision, "scales": list(scales),
            "losses": [*fall, *[ours_end] * 5], "bare_losses": [*fall, *[bare_end] * 5]}  # fmt: skip


@pytest.mark.parametrize(
    ("precision", "ours", "bare", "scales", "ok"),
    [
        ("bf16-mixed", 2.03, 2.0, [], True),  # 1.5% from 32-true
        ("bf16-mixed", 2.06, 2.0, [], False),  # 3%: no skipped step excuses it
        ("16-mixed", 2.06, 2.05, [65536.0] * 70, False),  # 3%, nothing skipped
        (
            "16-mixed",
            2.06,
            2.05,
            [2.0**11] * 70,
            True,
        ),  # 5 skipped; the bare loop is 2.5% off with the same scaler
        (
            "16-mixed",
            2.2,
            2.02,
            [2.0**15, *[2.0**11] * 69],
            False,
        ),  # 5 skipped, but 10% against the bare loop's 1%
    ],
)
def test_precision_check_allows_for_steps_the_scaler_skipped(precision, ours, bare, scales, ok):
    rows = [_row("32-true", 2.0, 2.0), _row(precision, ours, bare, scales)]
    checks = {c["check"]: c for c in gpu_precision.precision_checks(rows)}
    assert checks[f"tagger {precision} loss vs 32-true"]["ok"] is ok
    if precision == "16-mixed":
        skipped = 0 if scales[0] == 65536.0 else 5
        assert (
            checks["tagger GradScaler"]["value"] == f"final scale {scales[-1]}, {skipped} of 70 steps skipped"
        )
