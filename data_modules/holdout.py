"""`validation_split`: a seeded part of train held out as the validation split, for corpora without one."""

from __future__ import annotations

import logging

import datasets
import numpy as np
import pyarrow.compute as pc

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
            "hold out characters instead: --data.holdout_chars '[5000000, 5000000]' (text8 and enwik8 are split "
            "90M/5M/5M characters)."
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


def hold_out_chars(dd: datasets.DatasetDict, sizes: list[int] | None, column: str) -> datasets.DatasetDict:
    """`dd` with the last `sizes[0] + sizes[1]` characters of train's text cut off as the validation and test
    splits, in that order: the contiguous split of one-file character corpora (text8 and enwik8: 90M, 5M, 5M).
    A line that a cut falls in is cut there (each part then ends a line)."""
    if sizes is None:
        return dd
    if len(sizes) != 2 or min(sizes) < 1:
        raise DataError(
            f"--data.holdout_chars takes two counts of characters, [validation, test]; got {sizes}."
        )
    if "validation" in dd or "test" in dd:
        raise DataError("The corpus has a validation or test split already; drop --data.holdout_chars.")
    train = dd["train"].select_columns([column])
    lengths = pc.fill_null(pc.utf8_length(train.data.column(column)), 0).to_numpy().astype(np.int64)
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    valid, test = sizes
    if valid + test >= total:
        raise DataError(
            f"--data.holdout_chars {sizes} leaves no training text: the train split has {total} characters."
        )
    cuts = [0, total - valid - test, total - test, total]
    parts = [_characters(train, column, ends, a, b) for a, b in zip(cuts, cuts[1:])]
    log.info(
        "Held out the last %d and %d of %d characters as the validation and test splits", valid, test, total
    )
    return datasets.DatasetDict(dict(zip(("train", "validation", "test"), parts)))


def _characters(ds: datasets.Dataset, column: str, ends: np.ndarray, a: int, b: int) -> datasets.Dataset:
    """The rows holding characters [a, b) of the column's text, the first and the last cut at a and b."""
    first, last = (int(np.searchsorted(ends, x, side="right")) for x in (a, b - 1))
    start = lambda row: int(ends[row - 1]) if row else 0  # noqa: E731
    if first == last:
        pieces = [ds[first][column][a - start(first) : b - start(first)]]
        return datasets.Dataset.from_dict({column: pieces}, features=ds.features)
    head = datasets.Dataset.from_dict({column: [ds[first][column][a - start(first) :]]}, features=ds.features)
    tail = datasets.Dataset.from_dict({column: [ds[last][column][: b - start(last)]]}, features=ds.features)
    middle = ds.select(range(first + 1, last))
    return datasets.concatenate_datasets([head, middle, tail]).flatten_indices(keep_in_memory=True)
