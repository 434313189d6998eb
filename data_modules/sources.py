"""Where a corpus comes from: a Hub id, a local Hugging Face folder, a `save_to_disk` folder, or files.

Every source ends as a `datasets.DatasetDict` with canonical split names `train`, `validation`,
`test`, so the rest of the pipeline never asks where the data came from.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from data_modules.errors import DataError
from data_modules.files import check_utf8, files_fingerprint, fingerprint, is_empty

SPLITS = ("train", "validation", "test")
# How users and corpora name splits, mapped onto the canonical names.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
    "eval": "test",
}
_HF_DATA_EXT = (".parquet", ".arrow", ".jsonl", ".json", ".csv")
# Corpora shipped inside this package (package data), named by their path from the repository root.
_SHIPPED = "data_modules/corpora/"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]

HUB_UNREACHABLE = (
    "Could not reach the Hugging Face Hub to load '{path}'{name}. This machine is offline, or the Hub is down.\n"
    "Train on local files instead: point --data.path at a folder holding train.txt, valid.txt and test.txt "
    "(one sentence a line), a local Hugging Face dataset folder, or a save_to_disk folder, e.g.\n"
    "  python -m pipeline train --config conf/lm/brown.yaml --data.path ../shared/data/brown\n"
    "or run `make demo`, which needs no network. If the dataset was downloaded before, set HF_HUB_OFFLINE=1 "
    "and HF_DATASETS_OFFLINE=1 to use the local copy."
)


@dataclass
class SourceConfig:
    """Where a corpus comes from and where its cache lives: the fields both tasks' data configs share."""

    path: str | None = None
    """Hub dataset id (`Salesforce/wikitext`), local Hugging Face dataset folder, save_to_disk folder, or a folder
    of split files (train/valid/test: .txt for text; also .conll .iob .bio for CoNLL columns)."""
    name: str | None = None
    """Hugging Face dataset config name (`wikitext-2-raw-v1`)."""
    train_files: list[str] | None = None
    """Files or globs for the training split; with the other *_files, overrides `path`."""
    validation_files: list[str] | None = None
    """Files or globs for the validation split."""
    test_files: list[str] | None = None
    """Files or globs for the test split."""
    num_workers: int = field(default=0, metadata={"min": 0})
    """DataLoader worker processes."""
    cache_dir: str = ".cache/pipeline"
    """Where prepared data is cached, keyed by a fingerprint of source, tokenizer and preprocessing (a shared
    filesystem on clusters)."""

    def split_files(self) -> dict[str, list[str] | None]:
        return {"train": self.train_files, "validation": self.validation_files, "test": self.test_files}


def canonical_split(name: str) -> str | None:
    """`valid` -> `validation` and so on; None for a name that is no split."""
    return SPLIT_ALIASES.get(name.lower())


def split_files(folder: Path, patterns: tuple[str, ...]) -> dict[str, list[str]]:
    """Files of `folder` matching `patterns`, grouped by the split their name starts with (`valid.txt`, `dev.conll`)."""
    found: dict[str, list[str]] = {}
    for pattern in patterns:
        for f in sorted(folder.glob(pattern)):
            stem = f.name.split(".")[0].split("-")[-1].split("_")[0]
            split = canonical_split(stem) or canonical_split(f.name.split(".")[0].split("_")[-1])
            if split and f.is_file():
                found.setdefault(split, []).append(str(f))
    return found


def expand(patterns: list[str] | str) -> list[str]:
    """Paths and globs -> sorted existing files; a pattern that matches nothing is an error."""
    out: list[str] = []
    for p in [patterns] if isinstance(patterns, str) else patterns:
        hits = sorted(glob.glob(os.path.expanduser(p)))
        if not hits:
            raise DataError(f"No file matches '{p}'.")
        out.extend(hits)
    return out


def is_saved_to_disk(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def is_hf_folder(path: Path) -> bool:
    """A folder `load_dataset` reads as a dataset repo: a card or data files in a HF-loadable format."""
    if (path / "README.md").is_file():
        return True
    return any(f.suffix in _HF_DATA_EXT for f in path.rglob("*") if f.is_file())


def load_hf(path: str, name: str | None, **kwargs) -> datasets.DatasetDict:
    """`load_dataset` for a Hub id or a local HF folder, with one readable error when the Hub is unreachable."""
    try:
        ds = datasets.load_dataset(path, name, **kwargs)
    except FileNotFoundError as e:
        if Path(path).exists():
            raise DataError(f"Could not load the dataset in '{path}': {e}") from None
        raise DataError(
            f"'{path}' is neither a local path nor a dataset that can be loaded: {e}\n"
            + HUB_UNREACHABLE.format(path=path, name=f" ({name})" if name else "")
        ) from None
    except (ConnectionError, OSError) as e:
        if _looks_offline(e):
            raise DataError(HUB_UNREACHABLE.format(path=path, name=f" ({name})" if name else "")) from None
        raise
    except ValueError as e:
        if "config" in str(e).lower() and name:
            raise DataError(f"Dataset '{path}' has no config '{name}': {e}") from None
        raise
    return _as_dict(ds)


def _looks_offline(e: BaseException) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    keys = ("connect", "offline", "resolve", "network", "timed out", "max retries", "couldn't reach", "hub")
    return any(k in text for k in keys)


def _as_dict(ds) -> datasets.DatasetDict:
    if isinstance(ds, datasets.Dataset):
        ds = datasets.DatasetDict({"train": ds})
    out = {}
    for split, d in ds.items():
        canon = canonical_split(split) or split
        out[canon] = d
    return datasets.DatasetDict(out)


@dataclass
class Source:
    """A corpus located but not necessarily loaded: `fingerprint` changes whenever its content can have."""

    fingerprint: str
    load: Callable[[], datasets.DatasetDict]


def resolve_source(
    path: str | None,
    name: str | None = None,
    files: dict[str, list[str] | str | None] | None = None,
    # Compressed text too: the `text` builder decompresses .gz itself (the shipped corpus is stored so).
    file_patterns: tuple[str, ...] = ("*.txt", "*.txt.gz"),
    files_loader: Callable[[dict[str, list[str]]], datasets.DatasetDict] | None = None,
) -> Source:
    """Find a corpus; local files are fingerprinted without being read, so a warm cache costs no parsing.

    `files` (split -> paths/globs) wins over `path`. A local folder is, in this order: a
    `save_to_disk` folder, a folder of split files matching `file_patterns` (train.txt, valid.txt,
    test.txt, or the same gzipped), or a Hugging Face dataset folder. Anything else is a Hub id.
    `files_loader` turns split files into a DatasetDict (default: the `text` builder, one row a line).
    """
    explicit = {canonical_split(k) or k: expand(v) for k, v in (files or {}).items() if v}
    if not explicit and not path:
        raise DataError("No data given: set --data.path (a Hub id or a local folder) or --data.train_files.")
    loader = files_loader or _load_text_files
    if explicit:
        return Source("files:" + files_fingerprint(sum(explicit.values(), [])), lambda: loader(explicit))
    p = _local(path)
    if p.exists() and not p.is_dir():
        raise DataError(f"--data.path '{path}' is a file; give its folder, or use --data.train_files.")
    if p.is_dir():
        if is_saved_to_disk(p):
            ds = _as_dict(datasets.load_from_disk(str(p)))
            return Source("disk:" + _dict_fingerprint(ds), lambda: ds)
        found = split_files(p, file_patterns)
        if found:
            return Source("files:" + files_fingerprint(sum(found.values(), [])), lambda: loader(found))
        if is_hf_folder(p):
            # datasets caches a local folder under its base name and card, not its content, so two folders named
            # alike, or files edited in place, would be served stale Arrow files: give each content its own cache.
            files = [str(f) for f in sorted(p.rglob("*")) if f.is_file() and not _hidden(f.relative_to(p))]
            fp = files_fingerprint(files)
            cache = Path(datasets.config.HF_DATASETS_CACHE) / "local-folders" / fp
            return Source("hf:" + fp, lambda: load_hf(str(p), name, cache_dir=str(cache)))
        raise DataError(
            f"'{path}' holds no split files ({', '.join(file_patterns)} named train/valid/test), "
            "no Hugging Face data files and no save_to_disk dataset."
        )
    # Hub ids are `name` or `owner/name`; anything else shaped like a path is a missing folder.
    if path.startswith((".", "/", "~")) or path.strip("/").count("/") > 1:
        raise DataError(f"Data path '{path}' does not exist.")
    ds = load_hf(path, name)
    return Source("hf:" + _dict_fingerprint(ds), lambda: ds)


def load_source(*args, **kwargs) -> tuple[datasets.DatasetDict, str]:
    """`resolve_source` then load: the DatasetDict (canonical split names) and the source fingerprint."""
    src = resolve_source(*args, **kwargs)
    return src.load(), src.fingerprint


def _local(path: str) -> Path:
    """A local path; one under `data_modules/corpora/` that the working directory lacks is the package's own copy,
    so the default recipe (which names the shipped corpus so) runs from any directory and from an installed wheel."""
    p = Path(os.path.expanduser(path))
    if not p.exists() and path.startswith(_SHIPPED):
        return _PACKAGE_ROOT / path
    return p


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _load_text_files(files: dict[str, list[str]]) -> datasets.DatasetDict:
    # The `text` builder fails on a split of empty files with an error about "instructions"; say what is wrong.
    for split, paths in files.items():
        if all(is_empty(f) for f in paths):
            raise DataError(f"The {split} split is empty: {', '.join(paths)} holds no text.")
        for path in paths:
            check_utf8(path)
    return _as_dict(datasets.load_dataset("text", data_files=files))


def _dict_fingerprint(ds: datasets.DatasetDict) -> str:
    # `_fingerprint` is the datasets library's own content hash of each split (no public accessor exists);
    # tests/test_lm_data.py fails loudly if it disappears.
    return fingerprint({k: d._fingerprint for k, d in ds.items()}, length=16)
