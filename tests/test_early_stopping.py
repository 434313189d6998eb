"""Early stopping: off by default; with a patience it stops at the same validation, with the same weights,
whether or not the run was stopped (SIGTERM) and resumed in between."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from tests.test_resume import WRAPPER, final_state, lm_args, run, val_rows

# min_delta far above any change of val/ppl: only the first validation improves, so with patience 3 the
# run stops at its 4th validation (step 148 of 5 epochs x 74 steps), and a SIGTERM at step 120 falls after the
# 3rd, when the callback has counted two validations without improvement.
STOP = [
    "--early_stopping.patience",
    "3",
    "--early_stopping.min_delta",
    "1000000",
    "--trainer.max_epochs",
    "5",
]


def last_step(run_dir: Path) -> int:
    with open(run_dir / "metrics.csv", newline="") as f:
        return max(int(r["step"]) for r in csv.DictReader(f) if r["step"])


def test_early_stopping_stops_and_resumes_exactly(tmp_path, lm_corpus):
    script = tmp_path / "wrapped.py"
    script.write_text(WRAPPER)
    full = run(script, [*lm_args(tmp_path, lm_corpus, "full", 1), *STOP])
    assert full.returncode == 0, full.stderr[-3000:]
    reference = tmp_path / "runs" / "full"
    rows = val_rows(reference)
    # 4 validations of the 10 that 5 epochs would run, then train's final validation of best.ckpt
    assert len(rows) == 5, rows
    stopped_at = torch.load(reference / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert stopped_at < 5 * 74

    args = [*lm_args(tmp_path, lm_corpus, "cut", 1), *STOP]
    cut = run(script, args, KILL_STEP="120", KILL_SIGNAL="SIGTERM")
    assert cut.returncode != 0 and "stopped at step" in cut.stderr, cut.stderr[-2000:]
    assert len(val_rows(tmp_path / "runs" / "cut")) == 3
    resumed = run(script, args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert val_rows(tmp_path / "runs" / "cut") == rows
    state, expected = final_state(tmp_path / "runs" / "cut"), final_state(reference)
    assert state.keys() == expected.keys()
    for key in expected:
        assert torch.equal(state[key], expected[key]), key
    resumed_ckpt = torch.load(tmp_path / "runs" / "cut" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed_ckpt["global_step"] == stopped_at


def test_early_stopping_is_off_by_default():
    from pipeline import config as configs
    from pipeline.early_stopping import EarlyStoppingConfig, early_stopping
    from pipeline.tasks import TASKS

    for task in TASKS.values():
        defaults = configs.train_parser(task).get_defaults()
        assert defaults.early_stopping.patience is None
    assert early_stopping(EarlyStoppingConfig(), "val/ppl", "min") == []
    (callback,) = early_stopping(EarlyStoppingConfig(patience=2), "val/f1", "max")
    assert (callback.monitor, callback.mode, callback.patience) == ("val/f1", "max", 2)
