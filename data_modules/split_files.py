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
    """File names of split files: `train.txt`, `dev.conll` (NAME.EXT), `train`, `dev` (NAME alone: WikiANN's
    per-language folders), `esp.testa` (PREFIX.NAME, CoNLL-2002),
    `ptb.train.txt`, `wiki.valid.tokens` (PREFIX.NAME.EXT), `en_lines-ud-dev.conllu` and `en_ewt-ud-dev.iob2`
    (Universal Dependencies, Universal NER), `NER-de-dev.tsv` (PREFIX-NAME.EXT or PREFIX_NAME.EXT, GermEval)."""
    names = "|".join(sorted(SPLIT_ALIASES, key=len, reverse=True))
    ext = "|".join(re.escape(e) for e in extensions)
    packed = r"(?:\.(?:gz|bz2|xz))?"  # compressed, read through a decompressor (files.open_bytes)
    return re.compile(
        rf"^(?:(?P<name>{names})(?:\.(?:{ext}))?{packed}|\w+\.(?P<name2>{names})(?:\.(?:{ext}))?{packed}"
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


_GLUED = {"train": "train", "dev": "validation", "valid": "validation", "test": "test"}
# Split words glued to a prefix (MIT Movie's `engtrain.bio` / `engtest.bio`, WNUT-17's `wnut17train.conll`). A
# prefix can end in a split word by chance (`latest.txt`, `contest.txt`), so such names only stand in for splits no
# exact name gives, and a glued dev or test file only beside a glued train file of the same prefix.


def _glued(name: str, extensions: tuple[str, ...]) -> tuple[str, str] | None:
    """(prefix, split) of a file name like `engtrain.bio`; None for other names."""
    ext = "|".join(re.escape(e) for e in extensions)
    m = re.fullmatch(rf"([a-z][a-z0-9]*?)({'|'.join(_GLUED)})\.(?:{ext})(?:\.(?:gz|bz2|xz))?", name, re.I)
    return (m.group(1).lower(), _GLUED[m.group(2).lower()]) if m else None


def split_files(
    folder: Path, extensions: tuple[str, ...], skip: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """Split -> the one file of `folder` named as that split (exact patterns, see `split_pattern`; for a split none
    names, a glued name, see `_GLUED`); splits in `skip` (named by the user) are not looked for.

    Two files for one split is an error naming both; the folder's other files are listed once as ignored.
    """
    pattern = split_pattern(extensions)
    found: dict[str, list[str]] = {}
    glued: dict[str, list[tuple[str, Path]]] = {}
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.name.startswith("."):
            continue
        m = pattern.match(f.name)
        split = _split_of(m) if m else None
        if split in skip:
            continue
        if split is None:
            if g := _glued(f.name, extensions):
                glued.setdefault(g[1], []).append((g[0], f))
            continue
        _add(found, split, f, folder)
    exact = set(found)
    trains = {prefix for prefix, _ in glued.get("train", [])}
    for split, files in glued.items():
        for prefix, f in files:
            if split not in exact and split not in skip and (split == "train" or prefix in trains):
                _add(found, split, f, folder)
    return found


def _add(found: dict[str, list[str]], split: str, f: Path, folder: Path) -> None:
    if split in found:
        raise DataError(
            f"Two files for the {split} split in '{folder}': {Path(found[split][0]).name} and {f.name}; "
            f"keep one, or name the files with --data.{split}_files."
        )
    found[split] = [str(f)]


def list_split_files(folder: Path, found: dict[str, list[str]], read: dict[str, list[str]]) -> None:
    """One log line: which file is which split (of those `read`), and the folder's files of no split."""
    used = {Path(v[0]).name for v in found.values()}
    ignored = sorted(f.name for f in folder.iterdir() if f.name not in used and not f.name.startswith("."))
    named = ", ".join(f"{k}={Path(v[0]).name}" for k, v in read.items())
    log.info("Reading %s: %s%s", folder, named, f"; ignored: {', '.join(ignored)}" if ignored else "")


def only_splits(found: dict[str, list[str]], splits: tuple[str, ...] | None) -> dict[str, list[str]]:
    """The files of `splits` when there are files for each of them (else all: the missing one is reported later)."""
    return {s: found[s] for s in splits} if splits and set(splits) <= set(found) else found


def expand(patterns: list[str] | str, base: Path | None = None) -> list[str]:
    """Paths and globs -> sorted existing files (`**` spans folders: `train/**/*.gold_conll`); a relative pattern
    that matches nothing from the working directory is looked up in `base` (the `--data.path` folder, as flair's
    ColumnCorpus reads its file names); a pattern that matches nothing is an error."""
    out: list[str] = []
    for p in [patterns] if isinstance(patterns, str) else patterns:
        hits = _glob(os.path.expanduser(p))
        relative = not os.path.isabs(os.path.expanduser(p))
        if not hits and relative and base is not None:
            hits = _glob(str(base / p))
        if not hits:
            where = f" (relative to {os.getcwd()}{f' or to {base}' if base else ''})" if relative else ""
            raise DataError(f"No file matches '{p}'{where}.")
        out.extend(hits)
    return out


def _glob(pattern: str) -> list[str]:
    return sorted(f for f in glob.glob(pattern, recursive=True) if os.path.isfile(f))
