"""Instruments for Lightning runs: step wall time after warmup, time spent fetching batches, test time.

They only read `time.perf_counter()` and the batch mask, so they add no measurable cost.
"""

from __future__ import annotations

import contextlib
import time

import pytorch_lightning as pl
from pytorch_lightning.profilers import Profiler

FETCH_ACTION = "[_TrainingEpochLoop].train_dataloader_next"


class StepClock(pl.Callback):
    """Seconds and real tokens of the training steps after the first `warmup` ones.

    The clock starts at the end of step `warmup - 1` and stops at the end of the last step, so it covers
    whole iterations (fetch, forward, backward, optimizer, logging, progress bar) and no setup.
    """

    def __init__(self, warmup: int):
        if warmup < 1:
            raise ValueError("warmup must be >= 1 (the clock starts at the end of a step)")
        self.warmup = warmup
        self.start = self.end = 0.0
        self.tokens = 0
        self.steps = 0
        self.seen = 0  # steps over all epochs (batch_idx restarts every epoch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        self.seen += 1
        if self.seen == self.warmup:
            self.start = now
        elif self.seen > self.warmup:
            self.tokens += int(batch["mask"].sum())
            self.steps += 1
            self.end = now

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-12)


class FetchTimer(Profiler):
    """A profiler that records only how long each `next()` on the training dataloader takes (seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.durations: list[float] = []
        self._since: float | None = None

    def start(self, action_name: str) -> None:
        if action_name == FETCH_ACTION:
            self._since = time.perf_counter()

    def stop(self, action_name: str) -> None:
        if action_name == FETCH_ACTION and self._since is not None:
            self.durations.append(time.perf_counter() - self._since)
            self._since = None

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:
        # Every other action gets the no-op context a real run's profiler gives (pipeline.trainer.QuietProfiler):
        # the instrument must not add Lightning's per-hook context managers to ours alone.
        return super().profile(action_name) if action_name == FETCH_ACTION else contextlib.nullcontext()

    def summary(self) -> str:
        return f"{len(self.durations)} fetches, {sum(self.durations):.4f} s"


class TestClock(pl.Callback):
    """Wall time of the whole test loop, from the first test batch's start to the epoch's end."""

    def __init__(self) -> None:
        self.start = self.end = 0.0

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-12)
