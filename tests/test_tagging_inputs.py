"""Tagging inputs besides the corpus: files to predict, and pretrained word vectors (with lower-casing)."""

from __future__ import annotations

import pytest

from data_modules.errors import DataError
from data_modules.tagging.conll import read_prediction_file
from tests.test_tagging_data import module, write_corpus


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path)


def test_read_conll_prediction_file(tmp_path, corpus):
    folder, data = corpus
    sents, gold, fmt = read_prediction_file(str(folder / "test.txt"), drop_comments=True)
    assert fmt == "conll" and sents == [s[0] for s in data["test"]] and gold == [s[1] for s in data["test"]]
    (tmp_path / "tok.conll").write_text("EU\nrejects\n\nPeter\n")
    assert read_prediction_file(str(tmp_path / "tok.conll")) == (
        [["EU", "rejects"], ["Peter"]],
        None,
        "conll",
    )


def test_word_vectors_and_lowercase(tmp_path, corpus):
    folder, _ = corpus
    vec = tmp_path / "glove.txt"
    vec.write_text("the 1 2 3\nwent 4 5 6\nunrelated 7 8 9\n")
    dm = module(tmp_path, path=str(folder), word_vectors=str(vec), lowercase=True)
    w = dm.model_inputs().word_vectors
    vocab = dm.vocab.words.get_vocab()
    assert w.shape == (dm.model_inputs().word_vocab_size, 3) and w[0].abs().sum() == 0
    assert w[vocab["went"]].tolist() == [4, 5, 6] and "Went" not in vocab
    (tmp_path / "bad.txt").write_text("the 1 2 3\nwent 4 5\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: expected a word and 3 numbers"):
        module(tmp_path, path=str(folder), word_vectors=str(tmp_path / "bad.txt"))
