"""Table rows that are not sentences (data_modules/tagging/table_rows.py): a table of one token a row (a CSV as
Kaggle's GMB corpus) and rows of documents whose sentences are a list of structs (the Hub's OntoNotes 5) give the
vocabulary and batches of the same sentences written as CoNLL lines (the oracle)."""

from __future__ import annotations

import csv
import json
import logging

import datasets
import pytest

from data_modules.errors import DataError
from pipeline.__main__ import main
from tests.conftest import CONF
from tests.test_tagging_data import decoded, module, write_corpus


def write_plain(folder, data) -> None:
    folder.mkdir()
    for split, sents in data.items():
        (folder / f"{split}.txt").write_text(
            "\n\n".join("\n".join(f"{w} {t}" for w, t in zip(*s)) for s in sents) + "\n"
        )


def same_corpus(a, b) -> bool:
    return (
        b.vocab.artifacts() == a.vocab.artifacts()
        and decoded(b, "train") == decoded(a, "train")
        and decoded(b, "validation") == decoded(a, "validation")
    )


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
    data["train"][1] = (["NA", "null", "Zürich", "nan"], ["B-LOC", "O", "B-LOC", "O"])  # pandas' NaN words
    (tmp_path / "table").mkdir()
    for split, sents in data.items():
        write_table(tmp_path / "table" / f"{split}.csv", sents, every_row, encoding="latin-1")
    write_plain(tmp_path / "plain", data)
    a = module(tmp_path / "a", path=str(tmp_path / "plain"))
    b = module(
        tmp_path / "b",
        path=str(tmp_path / "table"),
        tokens_column="Word",
        tags_column="Tag",
        encoding="latin-1",
    )
    assert same_corpus(a, b) and b.vocab.words.token_to_id("Zürich") is not None
    c = module(
        tmp_path / "c", path=str(tmp_path / "table"), encoding="latin-1"
    )  # `Word` and `Tag` found by name
    assert same_corpus(a, c)


def test_hold_outs_of_a_table_draw_whole_sentences(tmp_path):
    """A table kept as one file (GMB's `ner_dataset.csv`) with `--data.validation_split` and `--data.test_split`
    holds out the sentences its CoNLL twin holds out. Before, token rows were drawn: sentences were cut across splits
    (GMB: "1373 of 27278 chunk tags contradict iob2")."""
    _, data = write_corpus(tmp_path)
    write_table(tmp_path / "table.csv", data["train"])
    (tmp_path / "plain.txt").write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in zip(*s)) for s in data["train"])
    )
    held = {"validation_split": 0.2, "test_split": 0.2}
    a = module(tmp_path / "a", train_files=str(tmp_path / "plain.txt"), **held)
    b = module(tmp_path / "b", train_files=str(tmp_path / "table.csv"), **held)
    assert same_corpus(a, b) and len(b._data["test"]) == 12


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


def test_documents_of_sentence_structs_are_their_sentences(tmp_path, caplog):
    """The Hub's OntoNotes 5 layout: a row a document, `sentences` a list of {words, named_entities (ClassLabel)}.
    Before: "no column 'sentences.words'"."""
    _, data = write_corpus(tmp_path)
    names = sorted({t for sents in data.values() for _, tags in sents for t in tags})
    sentence = {"part_id": datasets.Value("int32"), "words": datasets.List(datasets.Value("string")),
                "named_entities": datasets.List(datasets.ClassLabel(names=names))}  # fmt: skip
    features = datasets.Features(
        {"document_id": datasets.Value("string"), "sentences": datasets.List(sentence)}
    )
    hub = tmp_path / "hub"  # a local copy of the Hub repository's shape: a config of parquet files per split
    (hub / "english_v4").mkdir(parents=True)
    splits = {"train": "train", "valid": "validation", "test": "test"}
    listed = "".join(f"  - split: {s}\n    path: english_v4/{s}-*\n" for s in splits.values())
    (hub / "README.md").write_text(f"---\nconfigs:\n- config_name: english_v4\n  data_files:\n{listed}---\n")
    for split, sents in data.items():
        docs = [sents[i : i + 3] for i in range(0, len(sents), 3)]  # three sentences a document
        rows = {
            "document_id": [f"{split}/{k}" for k in range(len(docs))],
            "sentences": [
                [{"part_id": 0, "words": w, "named_entities": [names.index(t) for t in ts]} for w, ts in doc]
                for doc in docs
            ],
        }
        out = hub / "english_v4" / f"{splits[split]}-00000-of-00001.parquet"
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(out))
    write_plain(tmp_path / "plain", data)
    a = module(tmp_path / "a", path=str(tmp_path / "plain"))
    b = module(tmp_path / "b", path=str(hub), name="english_v4", tokens_column="sentences.words",
               tags_column="sentences.named_entities")  # fmt: skip
    assert same_corpus(a, b) and b.vocab.corpus_scheme == "iob2"
    with pytest.raises(
        DataError, match=r"'sentences.ner' is no field of the train split's 'sentences' sentences"
    ):
        module(tmp_path / "c", path=str(hub), name="english_v4", tokens_column="sentences.words",
               tags_column="sentences.ner")  # fmt: skip
    recipe = ["prepare", "--config", str(CONF / "tagger" / "ontonotes_hub.yaml"), "--data.path", str(hub),
              "--data.cache_dir", str(tmp_path / "d")]  # fmt: skip
    with caplog.at_level(logging.INFO):
        assert main(recipe) == 0
    assert "Tags: 7, scheme iob2 (detected), trained in bioes" in caplog.text
