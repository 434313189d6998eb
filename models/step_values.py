"""Which training steps log their values: those whose values something reads.

Lightning writes a step's logged values to the loggers only every `log_every_n_steps` optimizer steps (and
when the run is stopping), and our progress bar redraws at most every half second; the values logged on the
steps in between are overwritten unread. Yet each `self.log` call costs ~0.3 ms in Lightning 2.6 (it copies
the stored metric's whole state to the value's device on every call): 0.6 ms of the CoNLL tagger's ~30 ms
step on 2 cores, the largest single part of the Lightning loop's overhead over a bare loop.
"""

from __future__ import annotations

import time

import pytorch_lightning as pl


class StepValues:
    """`read(trainer)` inside `training_step`: log this step's values or not."""

    def __init__(self, every_s: float = 0.5):
        self.every_s = every_s  # the progress bar's redraw interval (pipeline.callbacks.ProgressBar)
        self.shown = float("-inf")

    def read(self, trainer: pl.Trainer | None) -> bool:
        if trainer is None:  # a module used outside a Trainer: `self.log` says what it does then
            return True
        # During training_step, global_step counts the optimizer steps before this one: Lightning's loggers
        # write after step global_step + 1 when it is a multiple of log_every_n_steps (its should_update_logs).
        n = trainer.log_every_n_steps
        if (n and (trainer.global_step + 1) % n == 0) or trainer.should_stop:
            self.shown = time.monotonic()
            return True
        if time.monotonic() - self.shown >= self.every_s:
            self.shown = time.monotonic()
            return True
        return False
