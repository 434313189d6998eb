"""An exported model folder: what a checkpoint holds for inference, without pickle and without training state.

    model.safetensors   the weights (the checkpoint's `state_dict`, EMA-averaged when training averaged)
    config.json         format, task, the resolved config and the names of the vocabulary files
    config.yaml         the resolved training config, as `train` wrote it
    <vocabularies>      tokenizer.json (LM) or words.json, chars.json, tags.json (tagger), as in the run
    README.md           the model card

`read_folder` returns the same shape `checkpoints.read` returns for a `.ckpt` ({"pipeline": ..., "state_dict":
...}), so the one restore route (`open_checkpoint(...).restore`) serves both.
"""

from __future__ import annotations

import json
from pathlib import Path

from data_modules.files import write_atomic
from pipeline.errors import PipelineError

MODEL = "model.safetensors"
META = "config.json"
FORMAT = 1


def _safetensors():
    try:
        import safetensors.torch
    except ImportError:
        raise PipelineError(
            "Exported folders need the export extra: pip install 'lstm-pipeline[export]'."
        ) from None
    return safetensors.torch


def is_folder(path: str | Path) -> bool:
    return Path(path).is_dir()


def write_folder(contents: dict, out: Path, card: str) -> list[Path]:
    """Write a checkpoint's inference part (`contents` as `checkpoints.read` gives it) into `out`."""
    save_file = _safetensors().save_file
    meta = contents["pipeline"]
    out.mkdir(parents=True, exist_ok=True)
    # safetensors refuses tensors that share memory (the LM's tied decoder is its embedding): own copies,
    # which load back into the one shared Parameter with the same values.
    tensors = {k: v.detach().clone().contiguous() for k, v in contents["state_dict"].items()}
    save_file(tensors, str(out / MODEL), metadata={"format": str(FORMAT), "task": meta["task"]})
    written = [out / MODEL]
    for name, text in meta["artifacts"].items():
        write_atomic(out / name, text)
        written.append(out / name)
    config = {"format": FORMAT, "task": meta["task"], "vocabularies": sorted(meta["artifacts"]),
              "config": meta["config"]}  # fmt: skip
    write_atomic(out / META, json.dumps(config, indent=2) + "\n")
    write_atomic(out / "config.yaml", meta["config"])
    write_atomic(out / "README.md", card)
    return [*written, out / META, out / "config.yaml", out / "README.md"]


def read_folder(path: str | Path) -> dict:
    """An exported folder as checkpoint contents; PipelineError when it is not one or is damaged."""
    from safetensors import SafetensorError

    load_file = _safetensors().load_file
    folder = Path(path)
    if not (folder / MODEL).is_file() or not (folder / META).is_file():
        raise PipelineError(
            f"'{path}' is a folder but not an exported model (no {MODEL} and {META}); "
            "give a .ckpt or a folder written by `python -m pipeline export`."
        )
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        artifacts = {name: (folder / name).read_text(encoding="utf-8") for name in meta["vocabularies"]}
        state_dict = load_file(str(folder / MODEL))
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        raise PipelineError(f"Exported model '{path}' is incomplete or damaged: {e}") from None
    if meta.get("format") != FORMAT:
        raise PipelineError(
            f"Exported model '{path}' has format {meta.get('format')}; this version reads {FORMAT}."
        )
    pipeline = {"format": FORMAT, "task": meta.get("task"), "config": meta["config"], "artifacts": artifacts}
    return {"pipeline": pipeline, "state_dict": state_dict}
