"""Where a corpus comes from: a Hub id, a local Hugging Face folder, a `save_to_disk` folder, or files.

Every source ends as a `datasets.DatasetDict` with canonical split names `train`, `validation`,
`test`, so the rest of the pipeline never asks where the data came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from data_modules import conll_text, text_files
from data_modules.errors import DataError
from data_modules.files import files_fingerprint, fingerprint
from data_modules.hub import CSV, HUB_UNREACHABLE, check_data_files, load_builder, load_hub
from data_modules.split_files import canonical_split, expand, list_split_files, only_splits, split_files

__all__ = ["HUB_UNREACHABLE"]
log = logging.getLogger(__name__)

TEXT_EXTENSIONS = ("txt", "tokens", "raw", "conll", "conllu")
"""Extensions of a language model's split files: text, one sentence (or paragraph) a line, or CoNLL/CoNLL-U files,
read as their words (conll_text.py); each may end in .gz, .bz2 or .xz too."""
HF_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}
"""Data files `datasets` reads with a packaged builder, by extension (a compressed .json.gz/.csv.bz2 too)."""
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst")
_ONE_FILE = (
    "with --data.validation_split 0.1 --data.test_split 0.1 (lines or sentences) or --data.holdout_chars."
)
# Corpora shipped inside this package (package data), named by their path from the repository root.
_SHIPPED = "data_modules/corpora/"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SourceConfig:
    """Where a corpus comes from and where its cache lives: the fields both tasks' data configs share."""

    path: str | None = None
    """Hub dataset id (`Salesforce/wikitext`), local Hugging Face dataset folder, save_to_disk folder, or a folder
    of split files (train/valid/test: .txt for text; also .conll .iob .bio for CoNLL columns)."""
    name: str | None = None
    """Hugging Face dataset config name (`wikitext-2-raw-v1`)."""
    revision: str | None = None
    """Hub dataset revision: a commit hash (pins the data a run saw), tag or branch; `refs/convert/parquet` is the
    Hub's parquet export of a dataset that has a loading script, which `datasets` >= 4 no longer runs."""
    train_files: list[str] | str | None = None
    """A file, a glob or a list of them for the training split; with the other *_files, overrides `path`."""
    validation_files: list[str] | str | None = None
    """A file, a glob or a list of them for the validation split."""
    test_files: list[str] | str | None = None
    """A file, a glob or a list of them for the test split."""
    validation_split: int | float | None = field(default=None, metadata={"above": 0})
    """Hold out this part of train as the validation split: a fraction (0.1) or a count of sentences/lines (500);
    seeded by `validation_seed`, the same on every rank and on resume. For corpora without a validation split."""
    test_split: int | float | None = field(default=None, metadata={"above": 0})
    """Hold out this part of train as the test split, as `validation_split` does (one permutation: the test rows
    are drawn after the validation rows). For corpora kept as one file."""
    validation_seed: int = field(default=0, metadata={"min": 0, "max": 2**32 - 1})
    """Seed of the `validation_split` and `test_split` hold-outs."""
    encoding: str = "utf-8"
    """Text encoding of text, CoNLL and CSV files (utf-8, latin-1, cp1252, ...); a UTF-8 BOM is skipped."""
    num_workers: int = field(default=0, metadata={"min": 0})
    """DataLoader worker processes."""
    cache_dir: str = ".cache/pipeline"
    """Where prepared data is cached, keyed by a fingerprint of source, tokenizer and preprocessing (a shared
    filesystem on clusters)."""

    def split_files(self) -> dict[str, list[str] | None]:
        return {"train": self.train_files, "validation": self.validation_files, "test": self.test_files}


def is_saved_to_disk(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def is_hf_folder(path: Path) -> bool:
    """A folder `load_dataset` reads as a dataset repo: a card or data files in a HF-loadable format."""
    if (path / "README.md").is_file():
        return True
    return any(hf_builder(f) for f in path.rglob("*") if f.is_file())


def hf_builder(path: str | Path) -> str | None:
    """The `datasets` builder that reads a data file (`x.jsonl`, `x.json.gz`: json), or None (text, CoNLL)."""
    name = Path(path).name.lower()
    for ending in _COMPRESSED:
        name = name.removesuffix(ending)
    return HF_BUILDERS.get(Path(name).suffix)


def load_data_files(found: dict[str, list[str]], encoding: str, num_proc: int) -> datasets.DatasetDict:
    """Split files as a DatasetDict: data files (json, csv, parquet, arrow) by their `datasets` builder, with their
    columns; any other file as text, one `text` row a line (text_files.py). A JSON Lines file read as text would
    train a language model on its keys and quotes, so the kind is never guessed from the content."""
    builders = {hf_builder(f) for paths in found.values() for f in paths}
    if builders == {None} and conll_text.column_files(found, encoding):  # a tagging corpus: its words
        return _as_dict(conll_text.load_words(found, encoding))
    if builders == {None}:
        return _as_dict(text_files.load(found, encoding, num_proc))
    if len(builders) > 1:
        listed = ", ".join(sorted({Path(f).name for paths in found.values() for f in paths})[:6])
        raise DataError(f"The split files are of different kinds ({listed}): give text files or data files of one "
                        "format (json, csv, parquet, arrow).")  # fmt: skip
    return _as_dict(load_builder(builders.pop(), found, encoding))


def _words_mark(found: dict[str, list[str]], encoding: str, files_loader) -> str:
    """A mark in the source fingerprint of CoNLL files read as their words (`load_data_files`): such files were read
    as lines of text before, so their token caches must not be served again."""
    plain = files_loader is None and not any(hf_builder(f) for paths in found.values() for f in paths)
    return "+words" if plain and conll_text.column_files(found, encoding) else ""


def load_hf(path: str, name: str | None, **kwargs) -> datasets.DatasetDict:
    """`load_dataset` for a Hub id or a local HF folder, with canonical split names."""
    return _as_dict(load_hub(path, name, **kwargs))


def _as_dict(ds) -> datasets.DatasetDict:
    if isinstance(ds, datasets.Dataset):
        ds = datasets.DatasetDict({"train": ds})
    return datasets.DatasetDict({canonical_split(split) or split: d for split, d in ds.items()})


@dataclass
class Source:
    """A corpus located but not necessarily loaded: `fingerprint` changes whenever its content can have."""

    fingerprint: str
    load: Callable[[], datasets.DatasetDict]


def resolve_source(
    path: str | None,
    name: str | None = None,
    files: dict[str, list[str] | str | None] | None = None,
    extensions: tuple[str, ...] = TEXT_EXTENSIONS,
    files_loader: Callable[[dict[str, list[str]]], datasets.DatasetDict] | None = None,
    encoding: str = "utf-8",
    num_proc: int = 1,
    splits: tuple[str, ...] | None = None,
    revision: str | None = None,
) -> Source:
    """Find a corpus; local files are fingerprinted without being read, so a warm cache costs no parsing.

    `files` (split -> paths/globs) wins over `path`. A local folder is, in this order: a
    `save_to_disk` folder, a folder of split files with `extensions` (train.txt, valid.txt,
    test.txt, or the same gzipped; see `split_pattern`), or a Hugging Face dataset folder. Anything else
    is a Hub id.
    `files_loader` turns split files into a DatasetDict (default: one row a line, see text_files.py).
    `splits`: split files of only these splits are listed and read (evaluation scores one split: a 1 GB train file
    is not converted for it); the fingerprint stays that of every file, so cache keys do not change.
    """
    base = _local(path) if path and _local(path).is_dir() else None
    explicit = {canonical_split(k) or k: expand(v, base) for k, v in (files or {}).items() if v}
    if not explicit and not path:
        raise DataError("No data given: set --data.path (a Hub id or a local folder) or --data.train_files.")
    loader = files_loader or (lambda found: load_data_files(found, encoding, num_proc))
    if revision and not explicit and _local(path).exists():  # ignored, a run would believe its data pinned
        raise DataError(f"--data.revision names a Hub revision, but --data.path '{path}' is local.")
    if explicit:
        explicit, folder = _with_folder_splits(path, explicit, extensions)
        fp = files_fingerprint(sum(explicit.values(), [])) + _words_mark(explicit, encoding, files_loader)
        read = only_splits(explicit, splits)
        return Source(
            "files:" + fp, lambda: (folder and list_split_files(folder, explicit, read)) or loader(read)
        )
    p = _local(path)
    if p.exists() and not p.is_dir():
        raise DataError(f"--data.path '{path}' is a file; give its folder, or use --data.train_files.")
    if p.is_dir():
        if is_saved_to_disk(p):
            ds = _as_dict(datasets.load_from_disk(str(p)))
            return Source("disk:" + _dict_fingerprint(ds), lambda: ds)
        found = split_files(p, extensions) if extensions else {}
        if found:
            fp = files_fingerprint(sum(found.values(), [])) + _words_mark(found, encoding, files_loader)
            read = only_splits(found, splits)
            return Source("files:" + fp, lambda: list_split_files(p, found, read) or loader(read))
        if is_hf_folder(p):
            # datasets caches a local folder under its base name and card, not its content, so two folders named
            # alike, or files edited in place, would be served stale Arrow files: give each content its own cache.
            files = [str(f) for f in sorted(p.rglob("*")) if f.is_file() and not _hidden(f.relative_to(p))]
            fp = files_fingerprint(files)
            cache = Path(datasets.config.HF_DATASETS_CACHE) / "local-folders" / fp
            csv = {hf_builder(f) for f in files} - {None} == {"csv"}
            kwargs = {"cache_dir": str(cache)} | (CSV | {"encoding": encoding} if csv else {})
            return Source(
                "hf:" + fp, lambda: check_data_files(files, encoding) or load_hf(str(p), name, **kwargs)
            )
        files = [f.name for f in p.iterdir() if f.is_file() and not f.name.startswith(".")]
        one = f" It holds one file: --data.train_files {p / files[0]} {_ONE_FILE}" if len(files) == 1 else ""
        raise DataError(
            f"'{path}' holds no split files (train/valid/test.{{{','.join(extensions)}}}, *.train/*.testa/*.testb, "
            "*-ud-train/dev/test.conllu, *-train.EXT, engtrain.EXT), no Hugging Face data files and no save_to_disk "
            f"dataset.{one}"
        )
    # Hub ids are `name` or `owner/name`; anything else shaped like a path is a missing folder.
    if path.startswith((".", "/", "~")) or path.strip("/").count("/") > 1:
        raise DataError(f"Data path '{path}' does not exist.")
    ds = load_hf(path, name, **({"revision": revision} if revision else {}))
    return Source("hf:" + _dict_fingerprint(ds), lambda: ds)


def _with_folder_splits(
    path: str | None, explicit: dict[str, list[str]], extensions: tuple[str, ...]
) -> tuple[dict[str, list[str]], Path | None]:
    """`explicit` (split -> files named by the user) and None; or, when every named file lies in the `path` folder,
    `explicit` with that folder's own split files for the other splits, and the folder, as flair's ColumnCorpus reads a folder (WNUT-17's test file,
    `emerging.test.annotated`, has no split name). Files from elsewhere stand alone: a recipe's default folder must
    not lend its splits to a user's files."""
    folder = _local(path).resolve() if path else None
    if not (folder and folder.is_dir() and extensions) or is_saved_to_disk(folder):
        return explicit, None
    if not all(folder in Path(f).resolve().parents for files in explicit.values() for f in files):
        return explicit, None
    return split_files(folder, extensions, skip=tuple(explicit)) | explicit, folder


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


def _dict_fingerprint(ds: datasets.DatasetDict) -> str:
    # `_fingerprint` is the datasets library's own content hash of each split (no public accessor exists);
    # tests/test_lm_data.py fails loudly if it disappears.
    return fingerprint({k: d._fingerprint for k, d in ds.items()}, length=16)
