"""Optimizer and learning-rate schedule shared by both tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytorch_lightning as pl
import torch


@dataclass
class OptimConfig:
    """How parameters are updated."""

    name: Literal["sgd", "adamw", "adam"] = "sgd"
    """Optimizer: plain SGD (the classic LSTM-LM recipe), AdamW or Adam."""
    lr: float = field(default=20.0, metadata={"above": 0})
    """Learning rate."""
    momentum: float = field(default=0.0, metadata={"min": 0, "below": 1})
    """SGD momentum (ignored by Adam/AdamW)."""
    weight_decay: float = field(default=0.0, metadata={"min": 0})
    """L2 (SGD, Adam) or decoupled (AdamW) weight decay."""
    lr_decay: float = field(default=0.25, metadata={"above": 0, "max": 1})
    """Factor applied to the learning rate when the monitored validation metric stops improving; 1.0 disables the plateau schedule."""
    patience: int = field(default=0, metadata={"min": 0})
    """Validation rounds without improvement before the learning rate is decayed."""
    min_lr: float = field(default=0.0, metadata={"min": 0})
    """Lower bound of the decayed learning rate."""


def build_optimizer(params, cfg: OptimConfig, fused: bool = True) -> torch.optim.Optimizer:
    """`cfg`'s optimizer over `params`; Adam and AdamW as one fused kernel per step where torch has one.

    Without it, torch's Adam on the CPU is a Python loop of ~10 tensor ops per parameter tensor (its
    multi-tensor `foreach` is the default on CUDA only): for the CoNLL tagger's 18 tensors that was 8.8 ms a
    step on 2 cores, about a fifth of the step; the fused kernel takes 0.85 ms and updates the same weights
    to 2e-6. With `fused=False` Adam takes the multi-tensor path instead (3.3 ms; the loop's updates
    exactly): under Lightning's mixed precision, which refuses a fused optimizer with gradient clipping (it
    would unscale the gradients itself), and in multi-process runs (a 2-process gloo run ended with SIGABRT at
    exit in 3 of 18 tries with the fused kernel, 0 of 8 without; cause not found). Plain SGD is one op per
    tensor already (fused measured no faster): left as it is.
    """
    params = list(params)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    able = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    kind = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
    path = {"fused": True} if fused else {"foreach": True}
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **(path if able else {}))


def configure_optimizers(
    module: pl.LightningModule, cfg: OptimConfig, monitor: str, mode: str = "min"
) -> dict:
    """The dict Lightning's `configure_optimizers` returns for `module`: optimizer plus a plateau scheduler on
    `monitor`."""
    trainer = module._trainer  # None outside a Trainer (benchmarks build the optimizer themselves)
    multi = trainer is not None and ("mixed" in str(trainer.precision) or trainer.world_size > 1)
    opt = build_optimizer(module.parameters(), cfg, fused=not multi)
    if cfg.lr_decay >= 1.0:
        return {"optimizer": opt}
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode=mode, factor=cfg.lr_decay, patience=cfg.patience, min_lr=cfg.min_lr
    )
    # strict=False: an epoch whose validation was skipped (limit_val_batches=0) must not crash.
    return {
        "optimizer": opt,
        "lr_scheduler": {"scheduler": sched, "monitor": monitor, "interval": "epoch", "strict": False},
    }
