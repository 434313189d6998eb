"""`python -m pipeline export CKPT --format folder|onnx --output DIR`: a trained model out of the pipeline.

- folder: model.safetensors (no pickle), config.json/config.yaml, the vocabularies and the model card
  (pipeline/folders.py); `pipeline.load(DIR)` and evaluate/predict/generate read it as they read the checkpoint;
- onnx: the folder, plus the tagger's emission network or the LM's step function as ONNX and what the NumPy
  runtime needs beside it (pipeline/onnx_export.py; run it with pipeline/onnx_runtime.py, no PyTorch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from jsonargparse import ArgumentParser

from pipeline import config as configs
from pipeline import folders, model_card
from pipeline.checkpoints import Saved, open_checkpoint
from pipeline.errors import PipelineError
from pipeline.paths import refuse_writing_reads


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m pipeline export", exit_on_error=False, allow_abbrev=False)
    p.add_argument("checkpoint", type=str, help="A .ckpt written by `train` (or an exported folder).")
    p.add_argument("--format", type=Literal["folder", "onnx"], default="folder",
                   help="folder: safetensors + vocabularies + card; onnx: that plus model.onnx for onnxruntime.")  # fmt: skip
    p.add_argument(
        "--output", type=str | None, default=None, help="The folder to write (created if missing)."
    )
    p.add_argument("--verbose", type=bool, default=False, help="Show tracebacks for errors.")
    return p


def card_for(saved: Saved) -> str:
    """The run's model card when the checkpoint sits in its run directory (or an exported folder's card), else
    one made from the checkpoint."""
    ckpt = Path(saved.path)
    run_card = ckpt / "README.md" if ckpt.is_dir() else ckpt.parent.parent / "README.md"
    if (ckpt.is_dir() or ckpt.parent.name == "checkpoints") and run_card.is_file():
        return run_card.read_text(encoding="utf-8")
    name = ckpt.parent.parent.name if ckpt.parent.name == "checkpoints" else ckpt.stem
    text = saved.contents["pipeline"]["config"]
    return model_card.render(name, saved.task.name, text, {}, {"checkpoint": str(ckpt)})


def main(args: list[str]) -> Path:
    cfg = configs.parse(parser(), args)
    if not cfg.output:
        raise PipelineError("export needs --output DIR.")
    out = Path(cfg.output)
    if out.exists() and (not out.is_dir() or any(p.name != folders.META and p.suffix not in (
            ".json", ".yaml", ".md", ".safetensors", ".onnx", ".npz") for p in out.iterdir())):  # fmt: skip
        raise PipelineError(
            f"--output '{out}' exists and holds files an export does not write; choose a new or empty folder."
        )
    refuse_writing_reads(out, [cfg.checkpoint], "--output")
    saved = open_checkpoint(cfg.checkpoint, command="export")
    if cfg.format == "onnx" and getattr(saved.config.model, "lm_embeddings", None):
        # Its features come from LMs run over each sentence as a string (positions at word boundaries): a graph
        # and a runtime tokenizer of their own, not built yet. The folder format carries them.
        raise PipelineError(
            f"'{cfg.checkpoint}' reads features from language models (--model.lm_embeddings), which the ONNX "
            "export does not cover yet; use --format folder (loaded with pipeline.load)."
        )
    written = folders.write_folder(saved.contents, out, card_for(saved))
    if cfg.format == "onnx":
        from pipeline import onnx_export

        written += onnx_export.export(saved, out)
    print(f"Exported {saved.task.name} '{cfg.checkpoint}' as {cfg.format} -> {out} ({len(written)} files)")
    return out
