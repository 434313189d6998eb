"""The token and tag columns of Hugging Face-layout tagging corpora: a missing one is named with the columns there,
a column of one string a sentence is split on whitespace, not read letter by letter, and a table of one token a
row (a CSV as Kaggle's GMB corpus) is grouped into the sentences it was written from."""

from __future__ import annotations

import csv
import json

import datasets
import pytest

from data_modules.errors import DataError
from tests.test_tagging_data import decoded, module, write_corpus


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


def write_table(path, sents, every_row: bool = False, encoding: str = "utf-8") -> None:
    """A token-per-row CSV as Kaggle's GMB `ner_dataset.csv` writes it (`Sentence #` on first rows only), or with
    a sentence id on every row."""
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(["Sentence #", "Word", "Tag"])
        for k, (words, tags) in enumerate(sents, start=1):
            for i, (word, tag) in enumerate(zip(words, tags)):
                w.writerow([k if every_row else f"Sentence: {k}" if i == 0 else "", word, tag])


@pytest.mark.parametrize("every_row", [False, True], ids=["first-rows", "every-row"])
def test_a_table_of_one_token_a_row_is_grouped_into_its_sentences(tmp_path, every_row):
    """Before: each row was a sentence of one token (or a traceback at a token `NA`, which pandas read as missing)."""
    _, data = write_corpus(tmp_path)
    data["train"][1] = (
        ["NA", "null", "Zürich", "nan"],
        ["B-LOC", "O", "B-LOC", "O"],
    )  # words pandas reads as NaN
    (tmp_path / "table").mkdir()
    plain = tmp_path / "plain"
    plain.mkdir()
    for split, sents in data.items():
        write_table(tmp_path / "table" / f"{split}.csv", sents, every_row, encoding="latin-1")
        (plain / f"{split}.txt").write_text(
            "\n\n".join("\n".join(f"{w} {t}" for w, t in zip(*s)) for s in sents) + "\n"
        )
    a = module(tmp_path / "a", path=str(plain))
    b = module(
        tmp_path / "b",
        path=str(tmp_path / "table"),
        tokens_column="Word",
        tags_column="Tag",
        encoding="latin-1",
    )
    assert b.vocab.artifacts() == a.vocab.artifacts() and b.vocab.words.token_to_id("Zürich") is not None
    assert decoded(b, "train") == decoded(a, "train") and decoded(b, "validation") == decoded(a, "validation")


def test_one_token_a_row_without_a_sentence_column_is_one_line(tmp_path):
    rows = [{"word": w, "tag": t} for w, t in [("EU", "B-ORG"), ("rejects", "O"), ("Peter", "B-PER")] * 5]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    files = {f"{s}_files": str(path) for s in ("train", "validation", "test")}
    with pytest.raises(
        DataError, match=r"holds one token a row \('word'\), and no one column says where sentences"
    ):
        module(tmp_path, **files, tokens_column="word", tags_column="tag")
    with pytest.raises(DataError, match=r"--data.sentence_column 'doc' is not a column"):
        module(tmp_path, **files, tokens_column="word", tags_column="tag", sentence_column="doc")
