"""`datasets.load_dataset` calls: Hub ids, local HF folders and data files by builder, with one readable error when
the Hub is unreachable or the files cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

import datasets

from data_modules.errors import DataError
from data_modules.files import check_text, check_utf8

# pandas (under the csv builder) reads the words NA, null, nan and None as missing values by default, so a token
# `NA` (Namibia) became None: CSV cells are read as written, an empty cell as "".
CSV = {"keep_default_na": False}

HUB_UNREACHABLE = (
    "Could not reach the Hugging Face Hub to load '{path}'{name}. This machine is offline, or the Hub is down.\n"
    "Train on local files instead: point --data.path at a folder holding train.txt, valid.txt and test.txt "
    "(one sentence a line), a local Hugging Face dataset folder, or a save_to_disk folder, e.g.\n"
    "  python -m pipeline train --config conf/lm/brown.yaml --data.path ../shared/data/brown\n"
    "or run `make demo`, which needs no network. If the dataset was downloaded before, set HF_HUB_OFFLINE=1 "
    "and HF_DATASETS_OFFLINE=1 to use the local copy."
)


def load_hub(path: str, name: str | None, **kwargs):
    """`load_dataset` (a Dataset or DatasetDict) for a Hub id or a local HF folder, with one readable error when the Hub is unreachable."""
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
            # `data/corpus` is a Hub id in shape, but most often a local folder misspelt or not made yet.
            local = (
                "" if Path(path).exists() else f"\nThere is no local folder '{path}' in {os.getcwd()} either."
            )
            raise DataError(
                HUB_UNREACHABLE.format(path=path, name=f" ({name})" if name else "") + local
            ) from None
        raise
    except ValueError as e:
        if "config" in str(e).lower() and name:
            raise DataError(f"Dataset '{path}' has no config '{name}': {e}") from None
        raise
    except datasets.exceptions.DatasetGenerationError as e:
        raise unreadable(e, f"the data files of '{path}'") from None
    except RuntimeError as e:
        if "scripts are no longer supported" not in str(e):
            raise
        raise DataError(
            f"'{path}' is a dataset with a loading script ({str(e).rsplit(' ', 1)[-1]}), which datasets >= 4 no longer "
            "runs: load the Hub's parquet export with --data.revision refs/convert/parquet (most script datasets "
            "have one), or point --data.path at the dataset's data files."
        ) from None
    return ds


def _looks_offline(e: BaseException) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    keys = ("connect", "offline", "resolve", "network", "timed out", "max retries", "couldn't reach", "hub")
    return any(k in text for k in keys)


def load_builder(builder: str, found: dict[str, list[str]], encoding: str = "utf-8") -> datasets.DatasetDict:
    """Data files by their `datasets` builder; CSV files in `encoding` (Kaggle's GMB table is Latin-1), their cells
    as written (`CSV`). Text files are checked first, so a byte of another encoding is named with its file and line."""
    check_data_files([f for paths in found.values() for f in paths], encoding)
    kwargs = CSV | {"encoding": encoding} if builder == "csv" else {}
    try:
        return datasets.load_dataset(builder, data_files=found, **kwargs)
    except datasets.exceptions.DatasetGenerationError as e:
        names = sorted({Path(f).name for paths in found.values() for f in paths})
        raise unreadable(e, f"the {builder} files ({', '.join(names[:4])})") from None


def check_data_files(files: list[str], encoding: str) -> None:
    """CSV files decode in `encoding`, JSON files in UTF-8 (what their builders read), else a DataError naming the
    file, line and byte: `datasets` names neither."""
    for f in files:
        name = f.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".xz")
        check_text(f, encoding) if name.endswith(".csv") else check_utf8(f) if name.endswith(
            (".json", ".jsonl")
        ) else None


def unreadable(e: BaseException, what: str) -> DataError:
    """One line for files `datasets` could not read (malformed JSON, a CSV row with other columns): the root cause,
    which `datasets` wraps in a DatasetGenerationError."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = (str(e).strip() or "?").splitlines()[0]
    hint = (
        ": set --data.encoding to the files' encoding (latin-1, cp1252, ...)" if "UTF" in text.upper() else ""
    )
    return DataError(f"Could not read {what}: {type(e).__name__}: {text}{hint}")
