"""Which file is which split: names glued to a prefix, and files named by the user beside a folder's own."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from data_modules.errors import DataError
from data_modules.sources import resolve_source
from data_modules.split_files import split_files
from data_modules.tagging.conll import CONLL_EXTENSIONS


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["engtrain.bio", "engtest.bio"], {"train": "engtrain.bio", "test": "engtest.bio"}),  # MIT Movie
        (  # WNUT-17: the annotated test file has no split file name (`--data.test_files` names it)
            ["wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated"],
            {"train": "wnut17train.conll", "validation": "emerging.dev.conll"},
        ),
        (["train.txt", "valid.txt", "latest.txt"], {"train": "train.txt", "validation": "valid.txt"}),
        (["contest.txt", "train.txt", "test.txt"], {"train": "train.txt", "test": "test.txt"}),
        (["wikitrain.txt", "train.txt", "wikitest.txt"], {"train": "train.txt", "test": "wikitest.txt"}),
        (
            ["train", "dev", "test", "LICENSE"],
            {"train": "train", "validation": "dev", "test": "test"},
        ),  # WikiANN
        (
            ["Trivia10k13Train.bio", "trivia10k13test.bio.gz"],
            {"train": "Trivia10k13Train.bio", "test": "trivia10k13test.bio.gz"},
        ),
    ],
)
def test_split_words_glued_to_a_prefix_name_splits_no_exact_name_gives(tmp_path, names, expected):
    """Names alone (`train`, `dev`: the per-language folders of WikiANN's split) are split names. MIT Movie's
    `engtrain.bio`: a glued dev/test name counts beside a glued train name of its prefix, and only for
    a split no exact name gives, so `latest.txt` or `contest.txt` never become a test split."""
    for name in names:
        (tmp_path / name).write_text("a O\n")
    assert {s: Path(v[0]).name for s, v in split_files(tmp_path, CONLL_EXTENSIONS).items()} == expected


def test_two_glued_corpora_in_one_folder_are_an_error_naming_both(tmp_path):
    for name in ("engtrain.bio", "engtest.bio", "trivia10k13train.bio", "trivia10k13test.bio"):
        (tmp_path / name).write_text("a O\n")
    with pytest.raises(
        DataError, match="Two files for the test split .*: engtest.bio and trivia10k13test.bio"
    ):
        split_files(tmp_path, CONLL_EXTENSIONS)


def _read(path, files):
    """The files `resolve_source` would read, split -> name."""
    seen = {}

    def capture(found):
        seen.update({s: Path(v[0]).name for s, v in found.items()})
        return datasets.DatasetDict()

    resolve_source(str(path), files=files, extensions=CONLL_EXTENSIONS, files_loader=capture).load()
    return seen


def test_a_file_named_in_the_folder_replaces_its_split_and_the_folder_gives_the_others(tmp_path, monkeypatch):
    """WNUT-17's folder: `emerging.test` holds words alone, the tagged test file is `emerging.test.annotated`.
    Naming it (by a path, or by a name relative to --data.path as flair's ColumnCorpus takes it) keeps the folder's
    train and validation files; before, the named file was the whole corpus ("The corpus has no train split")."""
    wnut = tmp_path / "wnut"
    wnut.mkdir()
    for name in ("wnut17train.conll", "emerging.dev.conll", "emerging.test", "emerging.test.annotated"):
        (wnut / name).write_text("a O\n")
    monkeypatch.chdir(tmp_path)
    expected = {
        "train": "wnut17train.conll",
        "validation": "emerging.dev.conll",
        "test": "emerging.test.annotated",
    }
    assert _read(wnut, {"test": [str(wnut / "emerging.test.annotated")]}) == expected
    assert _read(wnut, {"test": ["emerging.test.annotated"]}) == expected
    with pytest.raises(
        DataError, match=f"No file matches 'nothing.txt' \\(relative to {tmp_path} or to {wnut}\\)"
    ):
        _read(wnut, {"test": ["nothing.txt"]})


def test_files_from_elsewhere_stand_alone(tmp_path):
    """A recipe's default folder must not lend its splits to a user's own files."""
    (tmp_path / "recipe").mkdir()
    (tmp_path / "mine").mkdir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        (tmp_path / "recipe" / name).write_text("a O\n")
    (tmp_path / "mine" / "own.txt").write_text("b O\n")
    assert _read(tmp_path / "recipe", {"train": [str(tmp_path / "mine" / "own.txt")]}) == {"train": "own.txt"}


def test_a_folder_of_one_file_that_names_no_split_says_how_to_train_on_it(tmp_path):
    """Tiny Shakespeare's `input.txt`, Kaggle's `ner_dataset.csv` folder: the error names the file and the hold-outs."""
    (tmp_path / "input.txt").write_text("First Citizen:\n")
    with pytest.raises(DataError, match=rf"It holds one file: --data.train_files {tmp_path / 'input.txt'} with "
                                        r"--data.validation_split 0.1 --data.test_split 0.1"):  # fmt: skip
        resolve_source(str(tmp_path))
