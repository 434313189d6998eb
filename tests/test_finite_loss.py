"""A NaN loss on a GPU is recorded without waiting for the device and stops the run before any checkpoint
holds the weights it reached (`pipeline.finite_loss`, deferred mode, run here on the CPU)."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest
import torch

import pipeline.trainer
from pipeline.__main__ import main
from pipeline.errors import PipelineError
from pipeline.finite_loss import FiniteLoss


def test_deferred_mode_never_reads_the_device_until_asked(monkeypatch):
    callback = FiniteLoss(every_n_steps=100, deferred=True)
    trainer = SimpleNamespace(global_step=0, current_epoch=2, world_size=1)

    def no_read(*args):
        raise AssertionError("a host read of a tensor (a device sync on a GPU)")

    losses = [1.5, 2.0, float("nan"), float("inf"), 3.0]
    with monkeypatch.context() as m:
        for name in ("__bool__", "__float__", "__int__", "item", "tolist"):
            m.setattr(torch.Tensor, name, no_read)
        for step, value in enumerate(losses, start=10):
            trainer.global_step = step
            callback.on_before_backward(trainer, None, torch.tensor(value))
    with pytest.raises(
        PipelineError, match=r"became nan at step 12 \(epoch 2\); training stopped at step 14"
    ):
        callback.check(trainer)


def test_deferred_mode_passes_finite_losses_and_forgets_them_once_read():
    callback = FiniteLoss(deferred=True)
    trainer = SimpleNamespace(global_step=0, current_epoch=0, world_size=1)
    for step in range(3):
        trainer.global_step = step
        callback.on_before_backward(trainer, None, torch.tensor(float(step)))
    callback.check(trainer)
    assert callback.steps == []


@pytest.mark.parametrize(
    ("bad_step", "every", "stopped_at"),
    [
        (7, 4, 9),
        (8, 1000, 10),
    ],  # read after 4 losses; or only when the step-10 checkpoint is about to be written
    ids=["periodic-read", "read-before-checkpoint"],
)
def test_deferred_nan_stops_before_any_checkpoint_holds_bad_weights(
    tmp_path, lm_corpus, tiny_lm_args, monkeypatch, capsys, bad_step, every, stopped_at
):
    from models.lm_lit_module import LMLitModule

    real_step = LMLitModule.training_step

    def poisoned(self, batch, batch_idx):
        loss = real_step(self, batch, batch_idx)
        return loss * float("nan") if self.global_step == bad_step else loss

    monkeypatch.setattr(LMLitModule, "training_step", poisoned)
    monkeypatch.setattr(
        pipeline.trainer, "FiniteLoss", lambda: FiniteLoss(every_n_steps=every, deferred=True)
    )
    args = [*tiny_lm_args(tmp_path, lm_corpus, name="nan"), "--checkpoint.every_n_train_steps", "5"]
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert (
        f"The training loss became nan at step {bad_step} (epoch 0); training stopped at step {stopped_at}"
        in err
    )
    folder = tmp_path / "runs" / "nan" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt", "step-00000005.ckpt"]
    for path in folder.iterdir():
        ckpt = torch.load(path, weights_only=True)
        assert ckpt["global_step"] == 5
        assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())


# Both ranks run this same script (Lightning's launcher re-runs it for rank 1): the deferred check, as on a GPU,
# with rank 1 alone seeing a NaN at step 7. Each rank must stop at the same read, with no rank left waiting.
DDP_NAN = textwrap.dedent(
    """
    import atexit, os, sys
    import torch
    import pipeline.trainer as tr
    from models.lm_lit_module import LMLitModule
    from pipeline.__main__ import main
    from pipeline.finite_loss import FiniteLoss

    real = LMLitModule.training_step

    def poisoned(self, batch, batch_idx):
        loss = real(self, batch, batch_idx)
        return loss * float("nan") if self.global_step == 7 and self.global_rank == 1 else loss

    LMLitModule.training_step = poisoned

    def record_exit():  # whether this rank's process group is still alive when the interpreter exits
        with open(os.path.join(os.environ["EXIT_OUT"], f"exit{os.environ.get('LOCAL_RANK', '0')}.txt"), "w") as f:
            f.write(str(torch.distributed.is_initialized()))

    atexit.register(record_exit)
    tr.FiniteLoss = lambda: FiniteLoss(every_n_steps=4, deferred=True)
    sys.exit(main(sys.argv[1:]))
    """
)


def test_deferred_nan_on_one_rank_stops_every_rank(tmp_path, lm_corpus):
    from tests.test_distributed import DDP2, TINY_LM, start_cli

    script = tmp_path / "ddp_nan.py"
    script.write_text(DDP_NAN)
    args = ["train", *TINY_LM, *DDP2, "--data.path", str(lm_corpus), "--runs_dir", str(tmp_path / "runs"),
            "--name", "nan", "--data.cache_dir", str(tmp_path / "cache"), "--checkpoint.every_n_train_steps", "5",
            "--wandb.mode", "disabled"]  # fmt: skip
    proc = start_cli(args, script, EXIT_OUT=str(tmp_path))
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 2, out[-3000:]
    # Every rank stopped at once, so the launching rank ended its process group: left to interpreter exit, gloo's
    # threads can kill the process with SIGABRT (exit status -6 instead of 2; once in a CI run).
    assert (tmp_path / "exit0.txt").read_text() == "False"
    assert "The training loss became nan at step 7 (epoch 0); training stopped at step 9" in out
    folder = tmp_path / "runs" / "nan" / "checkpoints"
    for path in folder.iterdir():
        ckpt = torch.load(path, weights_only=True)
        assert ckpt["global_step"] <= 5 and all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
