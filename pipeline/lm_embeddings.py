"""The tagger's language models (`--model.lm_embeddings`): read from LM checkpoints through the one restore route,
their identity given to the data module (it travels in the tagger checkpoint as an artifact), their weights to
the tagger, and their features served by the data module (cached once per split when frozen)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import torch

from data_modules.lm.tokenizer import EOS, UNK
from pipeline.checkpoints import open_checkpoint
from pipeline.errors import PipelineError


def file_hash(path: str) -> str:
    """Content hash of a checkpoint file: the key of the features cached for it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


def read_lm(path: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """(spec for models/lm_features.LMEmbedder, the LM's weights) of one LM checkpoint of this pipeline."""
    saved = open_checkpoint(path, "lm", "--model.lm_embeddings")
    lm_data, lm_module = saved.restore()
    unit = saved.config.data.tokenizer
    if unit not in ("char", "word"):
        raise PipelineError(
            f"--model.lm_embeddings: '{path}' is a {unit}-tokenized language model; word features come from "
            "char LMs (flair's contextual string embeddings) or word LMs (TagLM)."
        )
    tok = lm_data.tokenizer
    spec = {
        "path": str(Path(path)), "hash": file_hash(path), "unit": unit,
        "reverse": bool(getattr(saved.config.data, "reverse", False)), "config": asdict(saved.config.model),
        "vocab": dict(sorted(tok.get_vocab().items(), key=lambda kv: kv[1])), "unk": tok.token_to_id(UNK), "eos": tok.token_to_id(EOS),
    }  # fmt: skip
    return spec, lm_module.model.state_dict()


def read_lms(dm, model_cfg) -> list[dict[str, torch.Tensor]]:
    """Give the tagging data module the identity of the recipe's LMs (before its artifacts are compared with a
    resumed run's); returns their weights, for `attach`."""
    paths = list(getattr(model_cfg, "lm_embeddings", None) or [])
    read = [read_lm(p) for p in paths]
    dm.lm_specs = [spec for spec, _ in read]
    return [state for _, state in read]


def attach(dm, module, states: list[dict[str, torch.Tensor]] | None = None) -> None:
    """Load the LMs' weights into the tagger (when read from their own checkpoints; a tagger checkpoint already
    holds them) and have the data module serve their features."""
    embedders = getattr(module, "lm_embedders", None)
    if not embedders:
        return
    for embedder, state in zip(embedders, states or []):
        embedder.lm.load_state_dict(state)
    dm.use_lms(module.lm_features, finetune=embedders[0].finetune)
