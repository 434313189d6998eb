"""Callbacks that connect a run to its data shards, the machine's cores, its progress display and its throughput."""

from __future__ import annotations

import os
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import RichProgressBar

TRAIN_VALUES = ("train/loss", "train/ppl", "train/tokens_per_sec")
"""Logged during training without `prog_bar=True` and shown by `ProgressBar` all the same."""


class ProgressBar(RichProgressBar):
    """Lightning's rich progress bar, redrawn at most every `interval` seconds during training.

    The stock bar reads every logged metric and redraws after every batch: on a small model
    (the CoNLL tagger, ~60 ms a step on 2 cores) that was 3-5% of the step time. The last batch
    of an epoch is always drawn, so the bar ends at its total.

    It also shows the training values (`TRAIN_VALUES`), read when it draws. They are not logged with
    `prog_bar=True`: Lightning turns every progress-bar value into a Python number after every batch, bar or
    no bar, whether or not the step logged anything (`.item()`: on a GPU each is a wait for every queued
    kernel, 3 a step for the LM on an H200, `benchmarks/gpu/`).
    """

    def __init__(self, interval: float = 0.5, **kwargs):
        # Lightning's bar draws from a thread that wakes `refresh_rate` times a second (100 by default): on 2
        # cores those wake-ups cost the CoNLL tagger 3% of its training speed (0.929 -> 0.958 of a bare loop
        # without the bar). Not as rarely as the bar changes (2/s): stopping the bar waits out the thread's
        # sleep (a plain time.sleep), and the bar stops at every epoch (leave=True) and at each stage's end.
        kwargs.setdefault("refresh_rate", 10)
        super().__init__(**kwargs)
        self.interval, self._drawn = interval, 0.0

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        shown = super().get_metrics(trainer, pl_module)
        values = trainer.callback_metrics
        shown.update({k: float(values[k]) for k in TRAIN_VALUES if k in values})
        return shown

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        now = time.monotonic()
        if now - self._drawn >= self.interval or batch_idx + 1 >= self.total_train_batches:
            self._drawn = now
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def _get_train_description(self, current_epoch: int) -> str:
        # Lightning writes "Epoch 0/-2" for max_epochs -1 (no epoch limit; max_steps or max_time ends the run).
        # This private hook is the only place the text is made; tests/test_console.py fails if it goes.
        description = super()._get_train_description(current_epoch)
        return description.replace("/-2", "") if self.trainer.max_epochs == -1 else description


class ShardData(pl.Callback):
    """Tells the data module which shard is this rank's (the only place ranks reach the data), and whether to
    pin its batches (on CUDA, so Lightning's non_blocking copies really overlap with compute)."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        trainer.datamodule.set_shard(trainer.global_rank, trainer.world_size)
        trainer.datamodule.pin_memory = trainer.strategy.root_device.type == "cuda"


class CpuThreads(pl.Callback):
    """Several CPU processes on one node share its cores: each gets cores / processes threads.

    Without this every process starts one thread per core, and their OpenMP barriers contend so
    badly that a small LSTM step can take fifty times longer. OMP_NUM_THREADS, when set, wins.
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if (
            trainer.num_devices > 1
            and trainer.strategy.root_device.type == "cpu"
            and not os.environ.get("OMP_NUM_THREADS")
        ):
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // trainer.num_devices))


class TokensPerSecond(pl.Callback):
    """Logs `train/tokens_per_sec` (all ranks together) over the steps since the previous log.

    Counts the real (unmasked) tokens of each batch, so padding never inflates the figure. The count stays a
    tensor on the batch's device and is read only when logged: no host synchronisation per step on a GPU.
    """

    def __init__(self, every_n_steps: int = 10):
        self.every = every_n_steps
        self.tokens: torch.Tensor | None = None
        self.since = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.tokens, self.since = None, time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        n = batch["mask"].sum()
        self.tokens = n if self.tokens is None else self.tokens + n
        if (batch_idx + 1) % self.every == 0 and self.since is not None:
            now = time.perf_counter()
            rate = self.tokens.double() * trainer.world_size / max(now - self.since, 1e-9)
            pl_module.log(
                "train/tokens_per_sec", rate.float(), on_step=True, on_epoch=False
            )  # shown by ProgressBar
            self.tokens, self.since = None, now
