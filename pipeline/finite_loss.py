"""Stops training at the first NaN or infinite loss, so that no checkpoint ever holds the weights it reaches.

On the CPU every loss is checked before its backward pass, so a bad loss never reaches the weights. On a
GPU, reading a flag from the device makes the CPU wait for the step's forward pass, so it cannot queue the
backward pass, the optimizer and the next batch ahead of the GPU: a wait in every step, which a bare loop
does not have (the first `make gpu-check`, on an H200, measured the 2x1500 LM at 0.72-0.75 of a bare loop;
how much of that gap this wait was is for the next GPU run to measure). So there the first bad step is
recorded on the device, without waiting, and read every `every_n_steps` steps, before every validation and
before any checkpoint is written: the run stops then, naming the step the loss first went bad. The weights
in memory may by then hold bad updates; no file does.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn

from pipeline.errors import CollectiveStop


class FiniteLoss(pl.Callback):
    def __init__(self, every_n_steps: int = 50, deferred: bool | None = None):
        """`deferred`: record on the device and read later (default: on any device but the CPU)."""
        self.every, self.deferred = every_n_steps, deferred
        self._reset()

    def _reset(self) -> None:
        self.first: torch.Tensor | None = None  # () long: index into `steps` of the first bad loss, or -1
        self.value: torch.Tensor | None = None  # () float: that loss
        self.steps: list[tuple[int, int]] = []  # (global step, epoch) of each loss since the last read

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.deferred is None:
            self.deferred = trainer.strategy.root_device.type != "cpu"
        self._reset()

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        loss = loss.detach().float()
        bad = ~torch.isfinite(loss).all()
        if not self.deferred:
            if trainer.world_size > 1:
                bad = trainer.strategy.reduce_boolean_decision(bool(bad), all=False)
            if bad:
                raise CollectiveStop(  # every rank raises: the decision was reduced over all of them
                    f"The training loss became {float(loss)} at step {trainer.global_step} "
                    f"(epoch {trainer.current_epoch}); training stopped before the update. {_ADVICE}"
                )
            return
        if self.first is None:
            self.first = torch.full((), -1, dtype=torch.long, device=loss.device)
            self.value = torch.zeros((), device=loss.device)
        new = bad & (self.first < 0)  # tensor ops only: nothing here waits for the device
        self.first = torch.where(new, len(self.steps), self.first)
        self.value = torch.where(new, loss.reshape(()), self.value)
        self.steps.append((trainer.global_step, trainer.current_epoch))

    def check(self, trainer: pl.Trainer) -> None:
        """Read the recorded flag (waits for the device) and stop if any loss since the last read was bad."""
        if not self.deferred or (self.first is None and trainer.world_size == 1):
            return
        index = -1 if self.first is None else int(self.first)
        bad = index >= 0
        if trainer.world_size > 1:  # every rank reads at the same points; one bad rank stops them all
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            self._reset()
            return
        if index < 0:
            raise CollectiveStop(f"The training loss became non-finite on another rank. {_ADVICE}")
        step, epoch = self.steps[index]
        raise CollectiveStop(
            f"The training loss became {float(self.value)} at step {step} (epoch {epoch}); training stopped at "
            f"step {trainer.global_step}, before any checkpoint held the weights it reached. {_ADVICE}"
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if len(self.steps) >= self.every:
            self.check(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:  # not in `evaluate`
            self.check(trainer)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        self.check(trainer)  # runs before the file is written: raising here writes nothing

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(trainer)


_ADVICE = "The last good checkpoint is last.ckpt of the run; lower the learning rate or clip gradients."
