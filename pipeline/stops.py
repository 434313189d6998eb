"""Stops at a step boundary: SIGTERM/SIGINT and SLURM's time-limit signal (requeue); a non-finite loss
stops in `pipeline.finite_loss`.

Each stop lets the current step finish, so the checkpoint written at the stop is exactly resumable.

SLURM: `python -m pipeline slurm` writes a script that asks for SIGUSR1 some seconds before the time
limit, sent to every task. On it `SlurmRequeue` lets the current step finish, every rank writes
last.ckpt at that step boundary, rank 0 calls `scontrol requeue`, and the run stops; the requeued job
runs the same `train` command, which resumes the run. Lightning's own SIGUSR1 handler is replaced while
training because it writes hpc_ckpt_N.ckpt from inside the signal handler, mid-step;
`Run.resume_path` still picks such a file when it is the newest.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytorch_lightning as pl
from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

from pipeline.errors import PipelineError


class Stopped(PipelineError):
    """The run stopped on a signal after writing a checkpoint; the same command resumes it."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class StopOnSignal(pl.Callback):
    """Takes over `signals` while training; on one, every rank finishes its step, last.ckpt is written
    at that step boundary, and the run stops with `Stopped` (exit 128 + the signal number).

    Under DDP the ranks agree through a reduced flag, so they write the checkpoint together and stop
    together even when the signal reached only some of them.
    """

    signals: tuple[signal.Signals, ...] = ()

    def __init__(self, last: Path):
        self.last = last
        self.signum: int | None = None
        self.previous: dict = {}

    def active(self) -> bool:
        return True

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.active():
            for sig in self.signals:
                self.previous[sig] = signal.signal(sig, self._handle)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.previous:
            return
        local = self.signum is not None
        stop = trainer.strategy.reduce_boolean_decision(local, all=False) if trainer.world_size > 1 else local
        if not stop:
            return
        trainer.save_checkpoint(self.last)
        self.after_checkpoint(trainer)
        signum = self.signum or self.signals[0]
        raise Stopped(self.message(signal.Signals(signum).name, trainer.global_step), 128 + signum)

    def after_checkpoint(self, trainer: pl.Trainer) -> None:
        pass

    def message(self, name: str, step: int) -> str:
        return f"Received {name}: stopped at step {step} after writing {self.last}. Run the same command again to resume."


class GracefulStop(StopOnSignal):
    """SIGTERM/SIGINT stop the run cleanly; a second SIGINT stops at once."""

    signals = (signal.SIGTERM, signal.SIGINT)

    def _handle(self, signum, frame) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum


class SlurmRequeue(StopOnSignal):
    """SIGUSR1 under SLURM: at the next step boundary write last.ckpt on every rank, requeue the job, stop."""

    signals = (signal.SIGUSR1,)

    def active(self) -> bool:
        return SLURMEnvironment.detect()

    def after_checkpoint(self, trainer: pl.Trainer) -> None:
        if trainer.is_global_zero:
            requeue()

    def message(self, name: str, step: int) -> str:
        return (
            f"SLURM's time-limit signal: stopped at step {step} after writing {self.last}; "
            "the job is requeued and resumes from there."
        )


def requeue() -> None:
    """`scontrol requeue` for this job (an array task's own id when it is one)."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array else os.environ["SLURM_JOB_ID"]
    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
    except FileNotFoundError:
        rank_zero_warn(f"`scontrol` not found: job {job} was not requeued; resubmit the same script.")
        return
    if done.returncode == 0:
        rank_zero_info(f"Requeued SLURM job {job}.")
    else:
        rank_zero_warn(f"`scontrol requeue {job}` failed ({done.returncode}): {done.stderr.strip()}")
