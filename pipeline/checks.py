"""Every bad value is one line, before any work: the ranges declared beside each config field
(`field(metadata={"min": 1})`: min/max inclusive, above/below exclusive) and the Trainer's numbers are
checked right after parsing, and the Trainer's own argument checks (an accelerator this machine lacks)
run on a throwaway Trainer then, not after the data is prepared."""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings

import pytorch_lightning as pl
from lightning_fabric.utilities.exceptions import MisconfigurationException

from pipeline.errors import PipelineError

# The Trainer's numeric arguments, declared here because its signature is not ours.
TRAINER_RANGES = {
    "num_nodes": {"min": 1}, "max_epochs": {"min": -1}, "min_epochs": {"min": 0}, "max_steps": {"min": -1},
    "min_steps": {"min": 0}, "limit_train_batches": {"min": 0}, "limit_val_batches": {"min": 0},
    "limit_test_batches": {"min": 0}, "limit_predict_batches": {"min": 0}, "overfit_batches": {"min": 0},
    "val_check_interval": {"above": 0}, "check_val_every_n_epoch": {"min": 1}, "num_sanity_val_steps": {"min": -1},
    "log_every_n_steps": {"min": 1}, "accumulate_grad_batches": {"min": 1}, "gradient_clip_val": {"min": 0},
    "reload_dataloaders_every_n_epochs": {"min": 0},
}  # fmt: skip
SEED = {"min": 0, "max": 2**32 - 1}
"""NumPy's seeds are unsigned 32-bit numbers."""


def bad_value(key: str, value: object, rule: dict) -> str | None:
    """Why `value` breaks `rule`, as one line; None when it is fine (None values mean "not set")."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    ok = not (isinstance(value, float) and math.isnan(value))
    parts = []
    for word, test, text in (("min", value.__ge__, "at least"), ("max", value.__le__, "at most"),
                             ("above", value.__gt__, "above"), ("below", value.__lt__, "below")):  # fmt: skip
        if word in rule:
            parts.append(f"{text} {rule[word]}")
            ok = ok and bool(test(rule[word]))
    return None if ok else f"Bad value for {key}: {value} (must be {' and '.join(parts)})."


def check_config(obj: object, prefix: str) -> None:
    """Check the declared ranges of a config dataclass (and of nested ones)."""
    if not dataclasses.is_dataclass(obj):
        return
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            check_config(value, f"{prefix}{f.name}.")
        elif (why := bad_value(prefix + f.name, value, f.metadata)) is not None:
            raise PipelineError(why)


def check_namespace(cfg) -> None:
    """Every config group of an instantiated namespace, the seed, and the Trainer's numbers."""
    for group in ("data", "model", "optim", "training", "early_stopping", "checkpoint"):
        if group in cfg:
            check_config(cfg[group], group + ".")
    if "seed" in cfg and (why := bad_value("seed", cfg.seed, SEED)):
        raise PipelineError(why)
    if "trainer" in cfg:
        check_trainer(cfg.trainer.as_dict() if hasattr(cfg.trainer, "as_dict") else dict(cfg.trainer))


def check_trainer(kwargs: dict) -> None:
    """The Trainer's numbers, then its own checks (accelerator, devices, precision, strategy) on a throwaway
    Trainer that writes nothing, so a GPU profile on a machine without one fails before any work."""
    for key, rule in TRAINER_RANGES.items():
        if (why := bad_value(f"trainer.{key}", kwargs.get(key), rule)) is not None:
            raise PipelineError(why)
    devices = kwargs.get("devices")
    if isinstance(devices, int) and not isinstance(devices, bool) and devices < 1 and devices != -1:
        raise PipelineError(
            f"Bad value for trainer.devices: {devices} (a count of at least 1, -1 for all, or 'auto')."
        )
    probe = {
        k: v
        for k, v in kwargs.items()
        if k in ("accelerator", "strategy", "devices", "num_nodes", "precision")
    }
    quiet = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning_fabric", "lightning")]
    levels = [q.level for q in quiet]
    try:
        for q in quiet:
            q.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # build_trainer turns bf16 into fp16 on GPUs without bf16, so a bf16 setting is no error here.
            if str(probe.get("precision")).startswith("bf16"):
                probe.pop("precision")
            pl.Trainer(**probe, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                       enable_model_summary=False)  # fmt: skip
    except (MisconfigurationException, ValueError, RuntimeError, TypeError) as e:
        raise PipelineError(
            f"The trainer settings do not fit this machine: {' '.join(str(e).split())}"
        ) from None
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
