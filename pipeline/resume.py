"""Exact resume: what a checkpoint needs beyond Lightning's own state, for every rank.

Lightning restores weights, optimizer, schedulers and loop counters. An exact continuation also
needs, per rank: the RNG states (dropout masks), the model's carried state (the LM's hidden
state for its own streams) and the training loader's position. Each rank's part is gathered to
rank 0 when a checkpoint is written, and each rank takes its own part back on resume.
"""

from __future__ import annotations

import random

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.utilities import rank_zero_warn

from data_modules.resumable import ResumableLoader


def rng_state() -> dict:
    """RNG states as tensors and plain values only, so `torch.load(weights_only=True)` accepts them."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": [version, list(internal), gauss_next],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def train_loaders(trainer: pl.Trainer) -> list[ResumableLoader]:
    loaders = trainer.train_dataloader
    if loaders is None:
        return []
    flat = loaders if isinstance(loaders, list | tuple) else [loaders]
    return [dl for dl in flat if isinstance(dl, ResumableLoader)]


class ResumeState(pl.Callback):
    """Keeps the loader position current and saves/restores every rank's RNG and carried state."""

    def __init__(self):
        self.pending: dict | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for dl in train_loaders(trainer):
            dl.set_epoch(trainer.current_epoch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # Restored here, not at load time: creating the loaders' iterators draws from the torch RNG, and
        # the uninterrupted run had done that before its checkpoint was taken.
        if self.pending is not None:
            set_rng_state(self.pending["rng"])
            if hasattr(pl_module, "load_carry_state"):
                pl_module.load_carry_state(self.pending.get("carry"))
            self.pending = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for dl in train_loaders(trainer):
            dl.mark(trainer.current_epoch, batch_idx + 1)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        mine = {
            "rng": rng_state(),
            "carry": pl_module.carry_state() if hasattr(pl_module, "carry_state") else None,
        }
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
                "weights, optimizer and position are restored, per-rank random states and LSTM hidden states are not."
            )
            return
        self.pending = states[trainer.global_rank]
