"""Backward language models: `--data.reverse true` reads every line right to left (characters or tokens)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from data_modules.lm import token_cache
from data_modules.lm import tokenizer as toks
from tests.test_lm_data import SPLIT_LINES, prepared, write_text_folder


def lines_of(dm, split: str) -> list[list[int]]:
    ids = np.asarray(dm.ids[split])
    eos = dm.tokenizer.token_to_id(toks.EOS)
    ends = np.flatnonzero(ids == eos)
    return [[int(i) for i in piece[:-1]] for piece in np.split(ids, ends + 1)[:-1]]


@pytest.mark.parametrize("kind", ["char", "word"])
def test_backward_stream_is_the_reversed_text(tmp_path, kind):
    folder = write_text_folder(tmp_path / "txt", SPLIT_LINES)
    fwd = prepared(tmp_path / "cache", path=str(folder), tokenizer=kind)
    bwd = prepared(tmp_path / "cache", path=str(folder), tokenizer=kind, reverse=True)
    assert bwd.tokenizer.get_vocab() == fwd.tokenizer.get_vocab()
    for split, text in SPLIT_LINES.items():
        kept = [line for line in text if line]  # blank lines are skipped by default
        decoded = [bwd.tokenizer.decode(piece) for piece in lines_of(bwd, split)]
        if kind == "char":  # the oracle: Python's own string reversal of each line
            assert decoded == [line[::-1] for line in kept]
        else:
            assert decoded == [" ".join(line.split()[::-1]) for line in kept]
        # The same ids as the forward stream, each line reversed, each <eos> in place.
        assert lines_of(bwd, split) == [piece[::-1] for piece in lines_of(fwd, split)]
        assert len(bwd.ids[split]) == len(fwd.ids[split])


def test_reverse_lines_keeps_eos_last_and_empty_lines():
    ids = pa.array([[5, 6, 7, 1], [1], [8, 1], [2, 3, 1]], pa.list_(pa.int32()))
    assert token_cache.reverse_lines(ids).to_pylist() == [[7, 6, 5, 1], [1], [8, 1], [3, 2, 1]]
