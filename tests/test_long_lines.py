"""Long lines are tokenized in pieces (data_modules/lm/long_lines.py): the ids and the trained tokenizers are
those of the whole lines, checked against the tokenizers library on whole lines (the independent route)."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from data_modules.lm import long_lines
from data_modules.lm.long_lines import cuttable, line_ids, pieces
from data_modules.lm.tokenizer import train_tokenizer
from data_modules.lm.words import tokenizer_ids

WORDS = ["the", "cat's", "naïve", "über", "don't", "x1", "42", "3.14", "--", "(", ")", "日本", "é", "a"]
GAPS = [" ", " ", " ", "  ", "   ", "\t", " \t ", "\u00a0", "\u3000", " \u00a0 ", ""]


def messy_line(rng: random.Random, n: int) -> str:
    """Words, numbers, punctuation and every kind of whitespace run, at the ends too."""
    parts = [rng.choice(GAPS) if rng.random() < 0.2 else ""]
    for _ in range(n):
        parts += [rng.choice(WORDS), rng.choice(GAPS)]
    return "".join(parts)


def texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [messy_line(rng, rng.randint(0, 60)) for _ in range(40)] + ["", " ", "x"]


@pytest.mark.parametrize("kind", ["char", "bpe", "word"])
def test_pieces_give_the_ids_of_whole_lines(kind):
    corpus = texts(0)
    tok = train_tokenizer(corpus, kind, vocab_size=300 if kind == "bpe" else None)
    assert cuttable(tok)
    whole = [e.ids for e in tok.encode_batch(texts(1), add_special_tokens=False)]
    for size, group in ((1, 1), (5, 17), (40, 100)):  # cut at every point there is, and coarser
        assert [ids.tolist() for ids in line_ids(tok, texts(1), size, group)] == whole


def test_pieces_cut_only_before_a_space_after_a_non_space():
    rng = random.Random(2)
    for _ in range(200):
        line = messy_line(rng, rng.randint(0, 30))
        parts = list(pieces(line, rng.randint(1, 20)))
        assert "".join(parts) == line and all(parts[1:])
        for p in parts[1:]:
            assert p[0] == " "
        for a in parts[:-1]:
            assert not a[-1].isspace()


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_a_tokenizer_trained_on_pieces_is_the_one_trained_on_whole_lines(kind, monkeypatch):
    corpus = texts(3) + [" ".join(texts(4))]  # and one long line
    cut = train_tokenizer(corpus, kind, vocab_size=300 if kind == "bpe" else None)
    monkeypatch.setattr(long_lines, "PIECE", 10**9)
    assert [len(list(pieces(t))) for t in corpus] == [1] * len(corpus)
    whole = train_tokenizer(corpus, kind, vocab_size=300 if kind == "bpe" else None)
    assert json.loads(cut.to_str()) == json.loads(whole.to_str())


def test_tokenizers_that_could_join_across_a_cut_get_whole_lines():
    vocab = {"<unk>": 0, "a": 1}
    with_normalizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    with_normalizer.normalizer = normalizers.Lowercase()
    with_normalizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    metaspace = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    metaspace.pre_tokenizer = pre_tokenizers.Metaspace()
    no_regex = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    no_regex.pre_tokenizer = pre_tokenizers.ByteLevel(use_regex=False)
    for tok in (with_normalizer, metaspace, no_regex):
        assert not cuttable(tok)


def test_a_long_line_becomes_one_row_of_ids_ending_in_eos(monkeypatch):
    tok = train_tokenizer(texts(5), "bpe", vocab_size=300)
    monkeypatch.setattr(long_lines, "PIECE", 7)
    monkeypatch.setattr(long_lines, "GROUP", 50)
    line = " ".join(texts(6)) * 3
    rows = tokenizer_ids(tok, pa.array(["ab", line, ""], pa.large_string()), 1, True, False)
    assert len(rows) == 2  # the blank line is skipped
    expected = tok.encode(line, add_special_tokens=False).ids + [1]
    assert np.array_equal(rows[1].values.to_numpy(), np.array(expected))
