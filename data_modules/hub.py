"""Loading from the Hugging Face Hub (or a local HF folder), with one readable error when it is unreachable."""

from __future__ import annotations

import os
from pathlib import Path

import datasets

from data_modules.errors import DataError

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
