"""Exact resume: what a checkpoint needs beyond Lightning's own state, for every rank.

Lightning restores weights, optimizer, schedulers and loop counters. An exact continuation also
needs the same dropout masks (every batch is seeded from the run seed, epoch, batch and rank),
the training loader's position, and per rank the model's carried state (the LM's hidden state
for its own streams), gathered to rank 0 when a checkpoint is written and handed back to each
rank on resume.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.utilities import rank_zero_warn

from data_modules.resumable import ResumableLoader


def seed_step(base: int, epoch: int, batch_idx: int, rank: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and Python for one training batch of one rank.

    Dropout masks then depend only on (seed, epoch, batch, rank), never on what else drew random
    numbers before the step (validation, creating loader iterators, a sanity check after a
    resume), which a saved RNG state cannot capture: the RNG state at the start of the batch after
    a checkpoint is not known when the checkpoint is written.
    """
    seed = int.from_bytes(
        hashlib.blake2b(f"{base}/{epoch}/{batch_idx}/{rank}".encode(), digest_size=8).digest(), "little"
    )
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def train_loaders(trainer: pl.Trainer) -> list[ResumableLoader]:
    loaders = trainer.train_dataloader
    if loaders is None:
        return []
    flat = loaders if isinstance(loaders, list | tuple) else [loaders]
    return [dl for dl in flat if isinstance(dl, ResumableLoader)]


class ResumeState(pl.Callback):
    """Keeps the loader position current, seeds every batch, and saves/restores every rank's carried state."""

    def __init__(self, seed: int):
        self.seed = seed
        self.pending: dict | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for dl in train_loaders(trainer):
            dl.set_epoch(trainer.current_epoch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        seed_step(self.seed, trainer.current_epoch, batch_idx, trainer.global_rank)
        if self.pending is not None:
            if hasattr(pl_module, "load_carry_state"):
                pl_module.load_carry_state(self.pending.get("carry"))
            self.pending = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for dl in train_loaders(trainer):
            dl.mark(trainer.current_epoch, batch_idx + 1)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        mine = {"carry": pl_module.carry_state() if hasattr(pl_module, "carry_state") else None}
        if dist.is_available() and dist.is_initialized() and trainer.world_size > 1:
            gathered: list = [None] * trainer.world_size
            dist.all_gather_object(gathered, mine)
        else:
            gathered = [mine]
        checkpoint["rank_states"] = gathered

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        states = checkpoint.get("rank_states")
        if not states:
            return
        if len(states) != trainer.world_size:
            rank_zero_warn(
                f"The checkpoint was written by {len(states)} processes and this run has {trainer.world_size}: "
                "weights, optimizer and position are restored, the per-rank LSTM hidden states are not."
            )
            return
        self.pending = states[trainer.global_rank]
