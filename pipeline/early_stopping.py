"""Early stopping on the task's monitored metric (Lightning's EarlyStopping), off unless a patience is given.

Its counters (best score, validations without improvement) are Lightning callback state, so every checkpoint
holds them and a resumed run stops at the validation an uninterrupted run stops at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytorch_lightning.callbacks import Callback, EarlyStopping


@dataclass
class EarlyStoppingConfig:
    """Stop training when the monitored validation metric (val/ppl for LMs, val/f1 or val/accuracy for taggers)
    stops improving."""

    patience: int | None = field(default=None, metadata={"min": 1})
    """Validations in a row without improvement before training stops; None = never stop early."""
    min_delta: float = field(default=0.0, metadata={"min": 0})
    """Smallest change of the metric that counts as an improvement."""


def early_stopping(cfg: EarlyStoppingConfig, monitor: str, mode: str) -> list[Callback]:
    if cfg.patience is None:
        return []
    # strict: a monitor that is never logged is a bug of ours, not a reason to train on silently.
    return [EarlyStopping(monitor=monitor, mode=mode, patience=cfg.patience, min_delta=cfg.min_delta,
                          strict=True, verbose=True)]  # fmt: skip
