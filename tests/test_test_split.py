"""Corpora kept as one file (Kaggle's GMB `ner_dataset.csv`, a single CoNLL or text file): `--data.test_split` holds
out a test split of train beside `--data.validation_split`, as flair samples the splits a corpus lacks. Before, such
a corpus could not be trained: "The corpus has no test split (it has train, validation): set --data.test_files"."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from data_modules.errors import DataError
from data_modules.holdout import hold_out
from tests.test_lm_data import prepared
from tests.test_tagging_data import make_sentences, module, write_conll

TRAIN = datasets.Dataset.from_dict({"text": [f"line {i}" for i in range(50)]})


def texts(dd, split) -> list[str]:
    return list(dd[split]["text"])


def test_validation_and_test_rows_are_seeded_disjoint_complete_and_keep_the_validation_split():
    one = datasets.DatasetDict({"train": TRAIN})
    both = hold_out(one, 0.2, 3, 0.1)
    assert texts(both, "validation") == texts(hold_out(one, 0.2, 3), "validation")  # as without a test split
    assert len(texts(both, "test")) == 5 and texts(hold_out(one, 0.2, 3, 5), "test") == texts(both, "test")
    parts = [texts(both, s) for s in ("train", "validation", "test")]
    assert sorted(sum(parts, []), key=lambda t: int(t.split()[1])) == texts(one, "train")  # each row once
    assert all(p == sorted(p, key=lambda t: int(t.split()[1])) for p in parts)  # in corpus order
    assert texts(hold_out(one, None, 3, 0.1), "test") != texts(hold_out(one, None, 4, 0.1), "test")
    assert "validation" not in hold_out(one, None, 3, 0.1)


@pytest.mark.parametrize(
    ("splits", "part", "test_part", "error"),
    [
        (("train",), 25, 25, "leave no train rows"),
        (("train",), None, 1.5, "--data.test_split 1.5 must be a fraction"),
    ],
)
def test_impossible_test_splits_are_one_line(splits, part, test_part, error):
    with pytest.raises(DataError, match=error):
        hold_out(datasets.DatasetDict({s: TRAIN for s in splits}), part, 0, test_part)


def test_a_tagging_corpus_of_one_file_trains_with_both_splits_held_out(tmp_path):
    write_conll(tmp_path / "all.conll", make_sentences(100, 5))
    with pytest.raises(DataError, match="no test split .*--data.test_split 0.1"):
        module(tmp_path / "a", train_files=str(tmp_path / "all.conll"), validation_split=0.1)
    dm = module(tmp_path / "b", train_files=str(tmp_path / "all.conll"), validation_split=0.1, test_split=0.2)
    assert {s: len(d) for s, d in dm._data.items()} == {"train": 70, "validation": 10, "test": 20}


def test_a_language_model_corpus_of_one_file_gives_the_ids_of_its_splits_written_out(tmp_path, lm_corpus):
    """The oracle: the same hold-out applied to the lines, written as train/valid/test files."""
    lines = [line for line in (lm_corpus / "train.txt").read_text().splitlines() if line.strip()]
    (tmp_path / "all.txt").write_text("\n".join(lines) + "\n")
    held = hold_out(datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": lines})}), 0.2, 0, 0.2)
    (tmp_path / "three").mkdir()
    for split, name in (("train", "train"), ("validation", "valid"), ("test", "test")):
        (tmp_path / "three" / f"{name}.txt").write_text("\n".join(held[split]["text"]) + "\n")
    one = prepared(
        tmp_path / "a", train_files=str(tmp_path / "all.txt"), validation_split=0.2, test_split=0.2
    )
    three = prepared(tmp_path / "b", path=str(tmp_path / "three"))
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(one.ids[split], three.ids[split])
    assert len(three.ids["test"]) > 0


def test_a_split_the_corpus_has_is_kept_with_a_warning(caplog):
    """conf/tagger/conll2000.yaml holds out a validation split (CoNLL-2000 has none): a corpus with one keeps it.
    Before: "The corpus has a validation split already; drop --data.validation_split", of a recipe's setting."""
    dd = datasets.DatasetDict(
        {"train": TRAIN, "validation": TRAIN.select(range(3)), "test": TRAIN.select(range(2))}
    )
    with caplog.at_level("WARNING", logger="data_modules.holdout"):
        kept = hold_out(dd, 0.1, 0, 0.2)
    assert {s: texts(kept, s) for s in kept} == {s: texts(dd, s) for s in dd}
    assert (
        "The corpus has a validation split: --data.validation_split 0.1 holds nothing out" in caplog.messages
    )
    assert "The corpus has a test split: --data.test_split 0.2 holds nothing out" in caplog.messages
