"""`--data.holdout_chars [validation, test]`: one-file character corpora (text8, enwik8) split by characters, the
last ones held out in order; the same ids as the file cut by hand."""

from __future__ import annotations

import random

import datasets
import numpy as np
import pytest

from data_modules.errors import DataError
from data_modules.holdout import hold_out_chars
from tests.test_lm_data import prepared


def pieces(rows: list[str], a: int, b: int) -> list[str]:
    """The oracle: each row's non-empty piece inside characters [a, b) of the rows' text, row by row."""
    out, at = [], 0
    for row in rows:
        piece = row[max(a - at, 0) : max(b - at, 0)]
        out += [piece] if piece else []
        at += len(row)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_the_cuts_fall_where_the_counts_say(seed):
    rng = random.Random(seed)
    rows = ["".join(rng.choice("ab c") for _ in range(rng.randint(0, 30))) for _ in range(rng.randint(0, 8))]
    rows.insert(
        rng.randint(0, len(rows)), "abc d"
    )  # at least 5 characters, so both held-out parts can be cut
    total = sum(map(len, rows))
    valid, test = rng.randint(1, (total - 1) // 2), rng.randint(1, (total - 1) // 2)
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict({"text": rows, "n": list(range(len(rows)))})}
    )
    got = hold_out_chars(dd, [valid, test], "text")
    cuts = [0, total - valid - test, total - test, total]
    for split, a, b in zip(("train", "validation", "test"), cuts, cuts[1:]):
        assert "".join(got[split]["text"]) == "".join(rows)[a:b]
        assert [r for r in got[split]["text"] if r] == pieces(rows, a, b), (split, rows)


def test_a_one_line_corpus_gives_the_ids_of_the_file_cut_by_hand(tmp_path):
    rng = random.Random(0)
    text = " ".join("".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 9))) for _ in range(3000))
    (tmp_path / "text8").write_text(text)
    n = len(text)
    (tmp_path / "cut").mkdir()
    for name, piece in (
        ("train", text[: n - 2000]),
        ("valid", text[n - 2000 : n - 1000]),
        ("test", text[n - 1000 :]),
    ):
        (tmp_path / "cut" / f"{name}.txt").write_text(piece)
    held = prepared(tmp_path / "a", train_files=str(tmp_path / "text8"), holdout_chars=[1000, 1000], tokenizer="char",
                    batch_size=4, bptt=8)  # fmt: skip
    cut = prepared(tmp_path / "b", path=str(tmp_path / "cut"), tokenizer="char", batch_size=4, bptt=8)
    assert held.tokenizer.get_vocab() == cut.tokenizer.get_vocab()
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(held.ids[split], cut.ids[split])


@pytest.mark.parametrize(
    ("sizes", "splits", "error"),
    [
        ([10, 10], ("train", "validation"), "has a validation or test split already"),
        ([30, 30], ("train",), r"leaves no training text: the train split has 40 characters"),
        ([0, 5], ("train",), r"takes two counts of characters, \[validation, test\]"),
        ([5], ("train",), r"takes two counts of characters"),
    ],
)
def test_impossible_holdouts_are_one_line(sizes, splits, error):
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict({"text": ["x" * 20] * 2}) for s in splits})
    with pytest.raises(DataError, match=error):
        hold_out_chars(dd, sizes, "text")
