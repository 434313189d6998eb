"""The token and tag columns of Hugging Face-layout tagging corpora: a missing one is named with the columns there,
and a column of one string a sentence is split on whitespace, not read letter by letter."""

from __future__ import annotations

import json

import datasets
import pytest

from data_modules.errors import DataError
from tests.test_tagging_data import module


def test_missing_tag_column(tmp_path):
    ds = datasets.Dataset.from_dict({"tokens": [["a", "b"]], "pos_tags": [["DT", "NN"]]})
    ds.to_parquet(str(tmp_path / "train.parquet"))
    files = {f"{s}_files": str(tmp_path / "train.parquet") for s in ("train", "validation", "test")}
    with pytest.raises(DataError, match=r"no column 'ner_tags'.*\['tokens', 'pos_tags'\]"):
        module(tmp_path, **files)
    dm = module(tmp_path, **files, tags_column="pos_tags")
    assert dm.vocab.corpus_scheme == "none" and dm.vocab.corpus_tags == ["DT", "NN"]


def test_a_string_a_sentence_is_split_on_whitespace(tmp_path):
    """Before: tokens and tags were the strings' characters ("train sentence 1 has 22 tokens but 16 tags", or, with
    strings of equal length, a letter tagger)."""
    rows = [
        (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
        (["Peter", "Black"], ["B-PER", "I-PER"]),
    ]
    for kind, (col, tag_col) in {"lists": ("tokens", "ner_tags"), "strings": ("text", "labels")}.items():
        (tmp_path / kind).mkdir()
        with open(tmp_path / kind / "train.jsonl", "w") as f:
            for tokens, tags in rows * 10:
                as_string = kind == "strings"
                f.write(json.dumps({col: " ".join(tokens) if as_string else tokens,
                                    tag_col: " ".join(tags) if as_string else tags}) + "\n")  # fmt: skip
    files = {f"{s}_files": str(tmp_path / "lists" / "train.jsonl") for s in ("train", "validation", "test")}
    lists = module(tmp_path / "a", **files)
    files = {k: v.replace("lists", "strings") for k, v in files.items()}
    strings = module(tmp_path / "b", **files, tokens_column="text", tags_column="labels")
    assert strings.vocab.artifacts() == lists.vocab.artifacts() and strings.vocab.corpus_scheme == "iob2"
