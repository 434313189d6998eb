"""Language-model inputs of tagging sentences, and the per-split cache of frozen LM word features.

A sentence is read by an LM as a string (char LM: the words joined by single spaces) or as its words (word LM),
after an `<eos>` (the LM was trained on lines that each end with one), reversed for a backward LM. For word w
spanning units [s, e) of n, the feature is the LM output at input position e (forward: after its last unit) or
n - s (backward: after its first unit, which the reversed reading meets last). `spec` is the LM's identity as
models/lm_features.LMEmbedder takes it (`unit`, `reverse`, `vocab`, `unk`, `eos`, `hash`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from data_modules.entries import build_entry, disk_error, write_manifest
from data_modules.errors import DataError
from data_modules.files import atomic_open, fingerprint

LM_SPECS = "lm_embeddings.json"
"""Tagging artifact: the identity of the tagger's language models (their specs, in order)."""
FeatureFn = Callable[[dict[str, torch.Tensor]], torch.Tensor]
"""An `lm_batch` dict -> word features (B, L, D) fp32: the tagger's LMs, frozen."""
UNKNOWN_LIMIT = {"char": 0.1, "word": 0.5}
"""Largest share of a split's characters (char LM) or words (word LM) an LM may not know (rare words are normal)."""
CHUNK = 32
"""Sentences per LM forward pass when features are precomputed."""


def unit_spans(words: Sequence[str], unit: str) -> list[tuple[int, int]]:
    """[start, end) of every word in the units the LM reads (characters of " ".join(words), or words)."""
    if unit == "word":
        return [(i, i + 1) for i in range(len(words))]
    spans, at = [], 0
    for w in words:
        spans.append((at, at + len(w)))
        at += len(w) + 1
    return spans


def lm_input(words: Sequence[str], spec: dict) -> tuple[list[int], list[int]]:
    """(input ids (T,), the input position of each word's feature (len(words),))."""
    units = list(" ".join(words)) if spec["unit"] == "char" else list(words)
    n = len(units)
    spans = unit_spans(words, spec["unit"])
    if spec["reverse"]:
        units, positions = units[::-1], [n - s for s, _ in spans]
    else:
        positions = [e for _, e in spans]
    vocab, unk = spec["vocab"], spec["unk"]
    return [spec["eos"]] + [vocab.get(u, unk) for u in units], positions


def lm_batch(sentences: Sequence[Sequence[str]], specs: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Per LM k: `lm_ids_k` (B, T_k) right-padded with 0, `lm_pos_k` (B, L) (0 on padding words)."""
    out = {}
    longest = max((len(s) for s in sentences), default=0)
    for k, spec in enumerate(specs):
        pairs = [lm_input(s, spec) for s in sentences]
        ids = np.zeros((len(sentences), max((len(i) for i, _ in pairs), default=1)), dtype=np.int64)
        pos = np.zeros((len(sentences), max(longest, 1)), dtype=np.int64)
        for row, (i, p) in enumerate(pairs):
            ids[row, : len(i)] = i
            pos[row, : len(p)] = p
        out[f"lm_ids_{k}"], out[f"lm_pos_{k}"] = torch.from_numpy(ids), torch.from_numpy(pos)
    return out


def unknown_share(sentences: Sequence[Sequence[str]], spec: dict) -> float:
    """Share of the units (characters or words) of `sentences` the LM's vocabulary does not have."""
    vocab = spec["vocab"]
    units = [u for s in sentences for u in (" ".join(s) if spec["unit"] == "char" else s)]
    return sum(u not in vocab for u in units) / max(len(units), 1)


def check_coverage(sentences: Sequence[Sequence[str]], specs: Sequence[dict], split: str) -> None:
    """An LM whose vocabulary misses more than UNKNOWN_LIMIT of a split's units reads mostly `<unk>`: its
    features would describe nothing, so that is an error, not a result."""
    for spec in specs:
        share, limit = unknown_share(sentences, spec), UNKNOWN_LIMIT[spec["unit"]]
        if share <= limit:
            continue
        what = "characters" if spec["unit"] == "char" else "words"
        raise DataError(
            f"The language model '{spec.get('path', '?')}' cannot encode {share:.0%} of the {split} split's {what} "
            f"(more than {limit:.0%}): its tokenizer was trained on other text. Use an LM trained on text like this."
        )


def compute_features(sentences: Sequence[Sequence[str]], specs: Sequence[dict], fn: FeatureFn) -> np.ndarray:
    """Features of every word of `sentences` in order, (total words, D) fp32. Sentences go through the LMs
    CHUNK at a time, sorted by length (less padding); each word's row depends only on its own sentence."""
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    order = np.argsort([len(" ".join(s)) for s in sentences], kind="stable")
    out: np.ndarray | None = None
    for at in range(0, len(order), CHUNK):
        rows = order[at : at + CHUNK]
        with torch.no_grad():
            feats = fn(lm_batch([sentences[r] for r in rows], specs)).numpy()
        if out is None:
            out = np.zeros((int(lengths.sum()), feats.shape[-1]), dtype=np.float32)
        for j, r in enumerate(rows):
            out[starts[r] : starts[r] + lengths[r]] = feats[j, : lengths[r]]
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def cached_features(
    folder: Path, split: str, sentences: Sequence[Sequence[str]], specs: Sequence[dict], fn: FeatureFn
) -> np.ndarray:
    """The split's features from `folder` (the tagging cache), computed and written once per LM set: the file
    name holds the LM checkpoints' content hashes, so another LM never reads these. Memory-mapped."""
    key = fingerprint("lm-features-v1", [s["hash"] for s in specs], CHUNK)
    path = folder / f"lm-features-{key}-{split}.npy"

    def build() -> None:
        feats = compute_features(sentences, specs, fn)
        try:
            with atomic_open(path) as f:
                np.save(f, feats)
            write_manifest(path)
        except OSError as e:
            raise disk_error(path, e) from None

    build_entry(path, build, f"{split} LM features")
    return np.load(path, mmap_mode="r")
