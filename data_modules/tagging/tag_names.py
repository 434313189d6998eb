"""The names of a tags column's integer ids: `--data.tag_names`, a ClassLabel's, or none (string tags)."""

from __future__ import annotations

import logging

import datasets

from data_modules.errors import DataError

log = logging.getLogger(__name__)


def tag_names(ds: datasets.Dataset, column: str, given: list[str] | None, split: str) -> list[str] | None:
    """The names of integer tags: `--data.tag_names`, else a ClassLabel's; None for string tags. Integer tags
    without names are read as '0', '1', ... with a warning: the same ids would score as chunks with names."""
    feature = getattr(ds.features[column], "feature", None)
    integers = isinstance(feature, datasets.ClassLabel) or (
        isinstance(feature, datasets.Value) and feature.dtype.startswith(("int", "uint"))
    )
    if given is not None and not integers:
        raise DataError(
            f"--data.tag_names names integer tags, but the {split} split's '{column}' holds {feature}."
        )
    if given is not None:
        return list(given)
    if isinstance(feature, datasets.ClassLabel):
        return feature.names
    if integers and split == "train":
        log.warning(
            "The '%s' tags are integers without names (no ClassLabel): they are read as '0', '1', ..., which "
            "have no chunks, so only token accuracy is scored. Name them: --data.tag_names '[O, B-PER, I-PER]'.",
            column,
        )
    return None
