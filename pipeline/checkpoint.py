"""Reading checkpoints safely, and writing small run files atomically."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from pipeline.errors import PipelineError


def write_text_atomic(path: Path, text: str) -> None:
    """Write-then-rename, so a crash never leaves a half-written file under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read(path: str | Path) -> dict:
    """A checkpoint of this project, loaded with `weights_only=True` so it cannot run code.

    Raises PipelineError for a missing, truncated or foreign file.
    """
    p = Path(path)
    if not p.is_file():
        raise PipelineError(f"Checkpoint '{path}' does not exist.")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise PipelineError(
            f"Checkpoint '{path}' holds objects that are not plain tensors or containers, "
            f"so it was refused (loading it could run code): {str(e).splitlines()[0]}"
        ) from None
    except Exception as e:  # a damaged zip or pickle stream fails in many ways (KeyError, EOFError, ...)
        raise PipelineError(
            f"Checkpoint '{path}' is truncated or corrupt: {str(e).splitlines()[0]}"
        ) from None
    if not isinstance(ckpt, dict) or "pipeline" not in ckpt or "state_dict" not in ckpt:
        raise PipelineError(
            f"'{path}' is not a checkpoint written by this pipeline (no 'pipeline' metadata)."
        )
    return ckpt
