"""Where a command writes, checked before any work: never onto a path it reads, never into a folder or an
unwritable place (a check after an hour of training or tagging would lose the work)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from pipeline.errors import PipelineError

DATA_SUFFIXES = {
    ".txt",
    ".conll",
    ".conllu",
    ".iob",
    ".bio",
    ".tsv",
    ".parquet",
    ".json",
    ".jsonl",
    ".csv",
    ".arrow",
}


# The recipes travel with the package: pipeline/conf is a link to the project's conf/ in a checkout, and a copy of
# it in a wheel (pyproject's package-data).
_PACKAGE = Path(__file__).resolve().parent


def recipe_path(path: str) -> str:
    """A recipe named by its path in the project (`conf/lm/brown.yaml`) that the working directory lacks is the
    project's own, so the README's commands and `demo` run from any directory and from an installed wheel (as
    the shipped corpus does); a file of that name in the working directory comes first."""
    if not os.path.exists(path) and Path(path).parts[:1] == ("conf",) and (_PACKAGE / path).is_file():
        return str(_PACKAGE / path)
    return path


def with_recipes(args: list[str]) -> list[str]:
    """Command-line arguments with every `--config PATH` (or `--config=PATH`) resolved by `recipe_path`."""
    out = []
    for i, a in enumerate(args):
        if i and args[i - 1] == "--config":
            a = recipe_path(a)
        elif a.startswith("--config="):
            a = "--config=" + recipe_path(a.split("=", 1)[1])
        out.append(a)
    return out


def read_paths(data_cfg) -> list[str]:
    """The local files and folders a data config reads (Hub ids and unmatched globs are left out)."""
    found = [getattr(data_cfg, "path", None), getattr(data_cfg, "tokenizer_file", None),
             getattr(data_cfg, "word_vectors", None)]  # fmt: skip
    for key in ("train_files", "validation_files", "test_files"):
        for pattern in getattr(data_cfg, key, None) or []:
            found.extend(glob.glob(pattern) or [pattern])
    return [p for p in found if p and os.path.exists(p)]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refuse_writing_reads(out: str | Path, reads: list[str | None], what: str) -> None:
    """`out` (a file or a folder the command fills) must neither be nor hold anything the command reads."""
    target = Path(out).resolve()
    for r in filter(None, reads):
        read = Path(r).resolve()
        # A data file of a corpus folder the command reads (the folder's split files) counts as read too.
        data_file = (
            read.is_dir() and target.is_file() and _inside(target, read) and target.suffix in DATA_SUFFIXES
        )
        if data_file:
            raise PipelineError(
                f"{what} '{out}' is a data file of '{r}', which this command reads; choose another path. "
                "Nothing was written."
            )
        if _inside(read, target):
            raise PipelineError(
                f"{what} '{out}' would overwrite '{r}', which this command reads; choose another path. Nothing was written."
            )


def check_output(out: str, reads: list[str | None], what: str = "Output") -> Path:
    """An output file this command may write: not a folder, not a path it reads (input, checkpoint, config),
    in a folder that exists or can be made and is writable."""
    path = Path(out)
    if path.is_dir() or out.endswith(os.sep):
        raise PipelineError(f"{what} '{out}' is a folder; give a file name. Nothing was written.")
    refuse_writing_reads(path, reads, what)
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise PipelineError(f"{what} '{out}' cannot be written: '{parent}' is not a writable folder.")
    if path.exists() and not os.access(path, os.W_OK):
        raise PipelineError(f"{what} '{out}' cannot be written: the file is read-only.")
    return path
