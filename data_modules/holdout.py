"""`validation_split`: a seeded part of train held out as the validation split, for corpora without one."""

from __future__ import annotations

import logging

import datasets
import numpy as np
import pyarrow.compute as pc

from data_modules.errors import DataError

log = logging.getLogger(__name__)


def hold_out(
    dd: datasets.DatasetDict, part: float | int | None, seed: int, test_part: float | int | None = None
) -> datasets.DatasetDict:
    """`dd` with `part` of train (a fraction in (0, 1) or a count of rows) moved to a new validation split, and
    `test_part` to a new test split (a corpus kept as one file: Kaggle's GMB `ner_dataset.csv`); a split the corpus
    has already is kept (with a warning), so a recipe's hold-out for CoNLL-2000, which has no validation split, reads
    a corpus that has one.

    The rows are drawn by one permutation seeded with `seed` (validation rows first, then test rows, so the
    validation split is the same with or without a test split) and every part keeps corpus order, so the split is
    a function of the corpus and the config alone: the same on every rank, every node and every resume.
    """
    parts = {name: p for name, p in (("validation", part), ("test", test_part)) if p is not None}
    for name in [name for name in parts if name in dd]:  # a recipe's hold-out for corpora that lack the split
        log.warning(
            "The corpus has a %s split: --data.%s_split %s holds nothing out", name, name, parts.pop(name)
        )
    if not parts:
        return dd
    if "train" not in dd:
        raise DataError(
            f"--data.{next(iter(parts))}_split needs a train split to hold out from; splits: {list(dd)}."
        )
    n = len(dd["train"])
    if n < 2:  # a one-line corpus (text8, enwik8): nothing to hold out by rows
        raise DataError(
            f"--data.{next(iter(parts))}_split holds out rows (lines or sentences), and the train split has {n}: "
            "hold out characters instead: --data.holdout_chars '[5000000, 5000000]' (text8 and enwik8 are split "
            "90M/5M/5M characters)."
        )
    counts = {}
    for name, p in parts.items():
        counts[name] = count = round(p * n) if isinstance(p, float) else p
        if isinstance(p, float) and not 0 < p < 1 or not 0 < count < n:
            raise DataError(
                f"--data.{name}_split {p} must be a fraction between 0 and 1 or a count between 1 and "
                f"{n - 1} (the train split has {n} rows); it gives {count}."
            )
    if sum(counts.values()) >= n:
        raise DataError(f"--data.validation_split and --data.test_split leave no train rows (it has {n}).")
    order = np.random.default_rng(seed).permutation(n)
    held, start = {}, 0
    for name in ("validation", "test"):
        if name in counts:
            held[name] = np.sort(order[start : start + counts[name]])
            start += counts[name]
    keep = np.setdiff1d(np.arange(n), order[:start])
    train = dd["train"]
    out = dict(dd) | {"train": train.select(keep).flatten_indices(keep_in_memory=True)}
    for name, rows in held.items():
        out[name] = train.select(rows).flatten_indices(keep_in_memory=True)
        log.info("Held out %d of %d train rows as the %s split (seed %d)", len(rows), n, name, seed)
    return datasets.DatasetDict(out)


def check_splits(dd: datasets.DatasetDict, needed: tuple[str, ...]) -> None:
    """A missing split is an error that says which option supplies it."""
    fixes = {
        "train": "--data.train_files FILE",
        "validation": "--data.validation_split 0.1 (hold out 10% of train) or --data.validation_files FILE",
        "test": "--data.test_split 0.1 (hold out 10% of train) or --data.test_files FILE",
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
