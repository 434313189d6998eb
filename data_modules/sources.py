"""Where a corpus comes from: a Hub id, a local Hugging Face folder, a `save_to_disk` folder, or files.

Every source ends as a `datasets.DatasetDict` with canonical split names `train`, `validation`,
`test`, so the rest of the pipeline never asks where the data came from.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets

from data_modules.errors import DataError

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


def files_fingerprint(files: list[str]) -> str:
    """Identity of local files (path, size, mtime): cheap, and changes whenever a file is rewritten."""
    h = hashlib.sha256()
    for f in files:
        st = os.stat(f)
        h.update(f"{os.path.abspath(f)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


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


def check_utf8(path: str, chunk: int = 1 << 24) -> None:
    """Raise a DataError naming the file and byte offset of the first invalid UTF-8 byte.

    Streams the file through an incremental decoder, so a large corpus is never held in memory;
    the `text` builder would otherwise fail deep inside `datasets` with a traceback. A .gz file is
    checked after decompression (the offset counts decompressed bytes), and a damaged one is named.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    where = " of the decompressed text" if path.endswith(".gz") else ""
    with _open_bytes(path) as f:
        while True:
            data = _read(f, path, chunk)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                pending = len(decoder.getstate()[0]) if e.start >= len(data) else 0
                raise DataError(
                    f"{path}: invalid UTF-8 at byte offset {offset + e.start - pending}{where}: {e.reason}"
                ) from None
            if not data:
                return
            offset += len(data)


def _open_bytes(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _read(f, path: str, size: int) -> bytes:
    try:
        return f.read(size)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:  # a damaged or truncated .gz
        raise DataError(f"{path}: not a readable gzip file: {e}") from None


def _is_empty(path: str) -> bool:
    """No text: a zero-byte file, or a .gz that decompresses to nothing (its own size is never 0)."""
    if not path.endswith(".gz"):
        return os.path.getsize(path) == 0
    with _open_bytes(path) as f:
        return not _read(f, path, 1)


def _load_text_files(files: dict[str, list[str]]) -> datasets.DatasetDict:
    # The `text` builder fails on a split of empty files with an error about "instructions"; say what is wrong.
    for split, paths in files.items():
        if all(_is_empty(f) for f in paths):
            raise DataError(f"The {split} split is empty: {', '.join(paths)} holds no text.")
        for path in paths:
            check_utf8(path)
    return _as_dict(datasets.load_dataset("text", data_files=files))


def _dict_fingerprint(ds: datasets.DatasetDict) -> str:
    return hashlib.sha256(
        "|".join(f"{k}={d._fingerprint}" for k, d in sorted(ds.items())).encode()
    ).hexdigest()[:16]
