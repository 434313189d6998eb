"""Pretrained word vectors (GloVe / word2vec text format) for the tagger's word embeddings."""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer

from data_modules.errors import DataError


def load_word_vectors(path: str, words: Tokenizer, seed: int = 0) -> np.ndarray:
    """(V, D) float32 embeddings from a GloVe-format text file ("word v1 ... vD" a line, an optional
    word2vec header): vocabulary words found in the file get its vector (an exact match wins over a
    lower-cased one), the others random normal with the found vectors' scale, `<pad>` zeros."""
    vocab = words.get_vocab()
    norm = words.normalizer
    found: dict[int, np.ndarray] = {}
    exact: set[int] = set()
    dim = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.rstrip("\r\n ").split(" ")
            if lineno == 1 and len(parts) == 2 or not line.strip():
                continue
            dim = dim or len(parts) - 1
            if len(parts) < dim + 1 or dim < 1:
                raise DataError(
                    f"{path}:{lineno}: expected a word and {dim} numbers, found {len(parts)} fields"
                )
            word = " ".join(parts[:-dim])
            idx, is_exact = vocab.get(word), True
            if idx is None and norm is not None:
                idx, is_exact = vocab.get(norm.normalize_str(word)), False
            if idx is None or idx == 0 or (idx in exact and not is_exact):
                continue
            try:
                found[idx] = np.asarray(parts[-dim:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}:{lineno}: a vector value is not a number") from None
            if is_exact:
                exact.add(idx)
    if not found:
        raise DataError(f"No word of the vocabulary occurs in the word vectors '{path}'.")
    stacked = np.stack(list(found.values()))
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, float(stacked.std()) or 0.1, size=(len(vocab), dim)).astype(np.float32)
    out[list(found)] = stacked
    out[0] = 0.0
    return out
