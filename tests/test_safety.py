"""Checkpoints survive crashes and full disks, refuse to run code, and a NaN loss stops a run cleanly."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipeline.__main__ import main
from pipeline.checkpoints import AtomicCheckpointIO
from pipeline.errors import PipelineError
from tests.conftest import ROOT

DIE_DURING_SAVE = """
import os, sys
import torch
import pipeline.checkpoints as safety
from pipeline.__main__ import main

saves = []
real_save = torch.save


def half_then_die(obj, f, *args, **kwargs):
    saves.append(1)
    if len(saves) < 3:
        return real_save(obj, f, *args, **kwargs)
    import io
    buffer = io.BytesIO()
    real_save(obj, buffer)
    data = buffer.getvalue()
    f.write(data[: len(data) // 2])
    f.flush()
    os._exit(137)  # killed in the middle of writing the third checkpoint


safety.torch.save = half_then_die
sys.exit(main())
"""


def checkpoint_bytes(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / "checkpoints").glob("*.ckpt"))}


def test_kill_during_checkpoint_write_leaves_previous_checkpoint_for_auto_resume(
    tmp_path, lm_corpus, tiny_lm_args
):
    script = tmp_path / "die.py"
    script.write_text(DIE_DURING_SAVE)
    args = [*tiny_lm_args(tmp_path, lm_corpus, name="crash"), "--checkpoint.every_n_train_steps", "5"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    died = subprocess.run(
        [sys.executable, str(script), "train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert died.returncode == 137
    run_dir = tmp_path / "runs" / "crash"
    leftovers = [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the stub should have died inside a temporary file"
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 5  # the checkpoint before the interrupted one, intact

    resumed = subprocess.run(
        [sys.executable, "-m", "pipeline", "train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stderr and "last.ckpt" in resumed.stderr


class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/pipeline-test-pickle-ran-code")


def test_checkpoint_that_would_run_code_is_refused(tmp_path, capsys):
    MARKER.unlink(missing_ok=True)
    evil = tmp_path / "evil.ckpt"
    torch.save({"pipeline": {"task": "lm"}, "state_dict": {}, "payload": RunsCode()}, evil)
    assert main(["evaluate", str(evil)]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "could run code" in err
    assert not MARKER.exists()


def test_truncated_and_foreign_checkpoints_get_clear_messages(tmp_path, capsys):
    good = tmp_path / "good.ckpt"
    torch.save({"pipeline": {"task": "lm"}, "state_dict": {"w": torch.ones(1000)}}, good)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good.read_bytes()[:500])
    assert main(["evaluate", str(truncated)]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.ones(2)}, foreign)
    assert main(["evaluate", str(foreign)]) == 2
    assert "not a checkpoint written by this pipeline" in capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert main(["evaluate", str(notes)]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err


def test_disk_full_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"pipeline": {}, "state_dict": {"w": torch.zeros(3)}}, path)
    before = path.read_bytes()

    def full_disk(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(PipelineError, match="the disk is full. The previous checkpoint is untouched"):
        io.save_checkpoint({"pipeline": {}, "state_dict": {"w": torch.ones(3)}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(
    tmp_path, lm_corpus, tiny_lm_args, monkeypatch, capsys
):
    from models.lm_lit_module import LMLitModule

    real_step = LMLitModule.training_step

    def poisoned(self, batch, batch_idx):
        loss = real_step(self, batch, batch_idx)
        return loss * float("nan") if self.global_step == 7 else loss

    monkeypatch.setattr(LMLitModule, "training_step", poisoned)
    args = [*tiny_lm_args(tmp_path, lm_corpus, name="nan"), "--checkpoint.every_n_train_steps", "5"]
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert "The training loss became nan at step 7" in err
    last = tmp_path / "runs" / "nan" / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["global_step"] == 5
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
