"""`validation_split`: a seeded part of train held out as the validation split, for corpora without one."""

from __future__ import annotations

import logging

import datasets
import numpy as np

from data_modules.errors import DataError

log = logging.getLogger(__name__)


def hold_out(dd: datasets.DatasetDict, part: float | int | None, seed: int) -> datasets.DatasetDict:
    """`dd` with `part` of train (a fraction in (0, 1) or a count of rows) moved to a new validation split.

    The rows are drawn by a permutation seeded with `seed` and both parts keep corpus order, so the split is
    a function of the corpus and the config alone: the same on every rank, every node and every resume.
    """
    if part is None:
        return dd
    if "validation" in dd:
        raise DataError("The corpus has a validation split already; drop --data.validation_split.")
    if "train" not in dd:
        raise DataError(f"--data.validation_split needs a train split to hold out from; splits: {list(dd)}.")
    n = len(dd["train"])
    if n < 2:  # a one-line corpus (text8, enwik8): nothing to hold out by rows
        raise DataError(
            f"--data.validation_split holds out rows (lines or sentences), and the train split has {n}: "
            "cut the file yourself (text8 is usually split 90M/5M/5M characters) and give --data.validation_files."
        )
    count = round(part * n) if isinstance(part, float) else part
    if isinstance(part, float) and not 0 < part < 1 or not 0 < count < n:
        raise DataError(
            f"--data.validation_split {part} must be a fraction between 0 and 1 or a count between 1 and "
            f"{n - 1} (the train split has {n} rows); it gives {count}."
        )
    held = np.sort(np.random.default_rng(seed).permutation(n)[:count])
    keep = np.setdiff1d(np.arange(n), held)
    train = dd["train"]
    out = dict(dd) | {"train": train.select(keep).flatten_indices(keep_in_memory=True),
                      "validation": train.select(held).flatten_indices(keep_in_memory=True)}  # fmt: skip
    log.info("Held out %d of %d train rows as the validation split (seed %d)", count, n, seed)
    return datasets.DatasetDict(out)


def check_splits(dd: datasets.DatasetDict, needed: tuple[str, ...]) -> None:
    """A missing split is an error that says which option supplies it."""
    fixes = {
        "train": "--data.train_files FILE",
        "validation": "--data.validation_split 0.1 (hold out 10% of train) or --data.validation_files FILE",
        "test": "--data.test_files FILE",
    }
    for split in needed:
        if split not in dd:
            raise DataError(
                f"The corpus has no {split} split (it has {', '.join(dd) or 'none'}): set {fixes[split]}."
            )
