"""Split files: which file of a folder is which split (by exact names), and globs of files named by the user.

The one table of split names lives here; `sources.py` turns the files found into a DatasetDict.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from pathlib import Path

from data_modules.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
# The one table of split names: how users, corpora and file names name each split (first = canonical).
SPLIT_NAMES = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev", "devel", "testa"),
    "test": ("test", "testing", "eval", "testb"),
}
SPLIT_ALIASES = {alias: split for split, names in SPLIT_NAMES.items() for alias in names}


def canonical_split(name: str) -> str | None:
    """`valid` -> `validation` and so on; None for a name that is no split."""
    return SPLIT_ALIASES.get(name.lower())


def split_pattern(extensions: tuple[str, ...]) -> re.Pattern:
    """File names of split files: `train.txt`, `dev.conll` (NAME.EXT), `esp.testa` (PREFIX.NAME, CoNLL-2002),
    `ptb.train.txt`, `wiki.valid.tokens` (PREFIX.NAME.EXT), `en_lines-ud-dev.conllu` and `en_ewt-ud-dev.iob2`
    (Universal Dependencies, Universal NER), `NER-de-dev.tsv` (PREFIX-NAME.EXT or PREFIX_NAME.EXT, GermEval)."""
    names = "|".join(sorted(SPLIT_ALIASES, key=len, reverse=True))
    ext = "|".join(re.escape(e) for e in extensions)
    packed = r"(?:\.(?:gz|bz2|xz))?"  # compressed, read through a decompressor (files.open_bytes)
    return re.compile(
        rf"^(?:(?P<name>{names})\.(?:{ext}){packed}|\w+\.(?P<name2>{names})(?:\.(?:{ext}))?{packed}"
        rf"|[\w.]+-ud-(?P<ud>train|dev|test)\.(?:{ext}){packed}"
        rf"|(?P<prefix>[a-z0-9]+(?:[-_][a-z0-9]+)*)[-_](?P<name3>{names})\.(?:{ext}){packed})$",
        re.IGNORECASE,
    )


def _split_of(m: re.Match) -> str | None:
    """The split a file name matched by `split_pattern` names; None when its PREFIX names a split too (BioBERT's
    `train_dev.tsv` beside `train.tsv` and `devel.tsv` is both)."""
    prefix = m.group("prefix")
    if prefix and any(canonical_split(part) for part in re.split(r"[-_]", prefix)):
        return None
    return canonical_split(m.group("name") or m.group("name2") or m.group("ud") or m.group("name3"))


def split_files(folder: Path, extensions: tuple[str, ...]) -> dict[str, list[str]]:
    """Split -> the one file of `folder` named as that split (exact patterns only, see `split_pattern`).

    Two files for one split is an error naming both; the folder's other files are listed once as ignored.
    """
    pattern = split_pattern(extensions)
    found: dict[str, list[str]] = {}
    for f in sorted(folder.iterdir()):
        m = pattern.match(f.name) if f.is_file() and not f.name.startswith(".") else None
        split = _split_of(m) if m else None
        if split is None:
            continue
        if split in found:
            raise DataError(
                f"Two files for the {split} split in '{folder}': {Path(found[split][0]).name} and {f.name}; "
                f"keep one, or name the files with --data.{split}_files."
            )
        found[split] = [str(f)]
    return found


def list_split_files(folder: Path, found: dict[str, list[str]], read: dict[str, list[str]]) -> None:
    """One log line: which file is which split (of those `read`), and the folder's files of no split."""
    used = {Path(v[0]).name for v in found.values()}
    ignored = sorted(f.name for f in folder.iterdir() if f.name not in used and not f.name.startswith("."))
    named = ", ".join(f"{k}={Path(v[0]).name}" for k, v in read.items())
    log.info("Reading %s: %s%s", folder, named, f"; ignored: {', '.join(ignored)}" if ignored else "")


def only_splits(found: dict[str, list[str]], splits: tuple[str, ...] | None) -> dict[str, list[str]]:
    """The files of `splits` when there are files for each of them (else all: the missing one is reported later)."""
    return {s: found[s] for s in splits} if splits and set(splits) <= set(found) else found


def expand(patterns: list[str] | str) -> list[str]:
    """Paths and globs -> sorted existing files (`**` spans folders: `train/**/*.gold_conll`); a pattern that
    matches nothing is an error."""
    out: list[str] = []
    for p in [patterns] if isinstance(patterns, str) else patterns:
        hits = sorted(f for f in glob.glob(os.path.expanduser(p), recursive=True) if os.path.isfile(f))
        if not hits:
            where = "" if os.path.isabs(os.path.expanduser(p)) else f" (relative to {os.getcwd()})"
            raise DataError(f"No file matches '{p}'{where}.")
        out.extend(hits)
    return out
