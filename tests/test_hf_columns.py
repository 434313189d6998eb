"""The token and tag columns of Hugging Face-layout tagging corpora: a missing one is named with the columns there,
and a column of one string a sentence is split on whitespace, not read letter by letter."""

from __future__ import annotations

import json

import datasets
import pytest

from data_modules.errors import DataError
from tests.test_tagging_data import decoded, make_sentences, module


def test_missing_tag_column(tmp_path):
    ds = datasets.Dataset.from_dict({"tokens": [["a", "b"]], "pos_tags": [["DT", "NN"]]})
    ds.to_parquet(str(tmp_path / "train.parquet"))
    files = {f"{s}_files": str(tmp_path / "train.parquet") for s in ("train", "validation", "test")}
    with pytest.raises(DataError, match=r"no column 'ner_tags'.*\['tokens', 'pos_tags'\]"):
        module(tmp_path, **files)
    dm = module(tmp_path, **files, tags_column="pos_tags")
    assert dm.vocab.corpus_scheme == "none" and dm.vocab.corpus_tags == ["DT", "NN"]
    two = {"tokens": [["a", "b"]], "tags": [["O", "O"]], "labels": [["B-X", "O"]]}  # which? the user says
    datasets.Dataset.from_dict(two).to_parquet(str(tmp_path / "train.parquet"))
    with pytest.raises(DataError, match=r"no column 'ner_tags'.*\['tokens', 'tags', 'labels'\]"):
        module(tmp_path / "two", **files)


@pytest.mark.parametrize(("tokens", "tags"), [("words", "ner"), ("tokens", "tags"), ("Words", "labels")])
def test_columns_named_as_tokens_and_tags_stand_in_for_the_recipes(tmp_path, tokens, tags, caplog):
    """polyglot_ner's `words`/`ner`, tner's `tokens`/`tags`: the one column of each kind named so is read as the
    recipe's `tokens`/`ner_tags` (an id and a list column of languages beside them are not). Before: "The train split
    has no column 'tokens'" (or 'ner_tags')."""
    rows = make_sentences(30, 4)
    for folder, (tok, tag) in {"mine": (tokens, tags), "named": ("tokens", "ner_tags")}.items():
        (tmp_path / folder).mkdir()
        for split in ("train", "validation", "test"):
            with open(tmp_path / folder / f"{split}.jsonl", "w") as f:
                for k, (words, labels) in enumerate(rows):
                    f.write(
                        json.dumps({"id": str(k), tok: words, tag: labels, "langs": ["en"] * len(words)})
                        + "\n"
                    )
    a = module(tmp_path / "a", path=str(tmp_path / "named"))
    with caplog.at_level("INFO", logger="data_modules.tagging.columns"):
        b = module(tmp_path / "b", path=str(tmp_path / "mine"))
    assert b.vocab.artifacts() == a.vocab.artifacts() and decoded(b, "train") == decoded(a, "train")
    assert (
        f"No column 'ner_tags': the tags are column '{tags}' (--data.tags_column names it)" in caplog.messages
    )


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
