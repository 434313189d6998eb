"""Checkpoints that survive crashes, runs that stop cleanly on signals, and losses that must stay finite."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO

from pipeline import checkpoint as ckpt_files
from pipeline.errors import PipelineError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file, flushes it to disk, then renames it over the old one.

    A kill or a full disk during the write leaves the previous checkpoint intact and loadable, and
    no half-written file under a checkpoint's name. Loading goes through `pipeline.checkpoint.read`
    (weights_only=True, readable errors), so resuming cannot run code from a checkpoint either.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
            raise PipelineError(
                f"Could not write checkpoint '{path}': {why}. The previous checkpoint is untouched."
            ) from None

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return ckpt_files.read(path)


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


class FiniteLoss(pl.Callback):
    """Stops at the first NaN or infinite loss, before it reaches the weights; last.ckpt stays the last good one."""

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if bad:
            raise PipelineError(
                f"The training loss became {float(loss.detach())} at step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}); training stopped before the update. "
                "The last good checkpoint is last.ckpt of the run; lower the learning rate or clip gradients."
            )
