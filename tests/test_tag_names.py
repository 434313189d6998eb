"""Integer tags without a ClassLabel (a user's JSON, CSV or Parquet files): `--data.tag_names` names them, and
without names they are read as '0', '1', ... with a warning; names that do not fit are one-line errors."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from data_modules.errors import DataError
from tests.test_tagging_data import COVER, decoded, make_sentences, module, offline  # noqa: F401 (autouse)


def write_id_corpus(folder: Path, names: list[str]) -> dict[str, list]:
    """JSON Lines files whose tags are integer ids with no ClassLabel (a user's export): their sentences."""
    folder.mkdir()
    data = {}
    for split, n in (("train", 30), ("validation", 9), ("test", 7)):
        data[split] = ([COVER] if split == "train" else []) + make_sentences(n, n + 40)
        ds = datasets.Dataset.from_dict(
            {
                "tokens": [s[0] for s in data[split]],
                "ner_tags": [[names.index(t) for t in s[1]] for s in data[split]],
            }
        )
        ds.to_json(str(folder / f"{split}.jsonl"))
    return data


def test_integer_tags_take_their_names_from_tag_names(tmp_path, caplog):
    names = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER", "B-MISC", "I-MISC"]
    data = write_id_corpus(tmp_path / "ids", names)
    dm = module(tmp_path, path=str(tmp_path / "ids"), tag_names=names)
    assert dm.vocab.corpus_scheme == "iob2"
    got = decoded(dm, "validation")
    assert [got[i][1] for i in range(9)] == [
        s[1] for s in data["validation"]
    ]  # the names, sentence by sentence
    with caplog.at_level("WARNING"):
        unnamed = module(tmp_path, path=str(tmp_path / "ids"), cache_dir=str(tmp_path / "c2"))
    assert unnamed.vocab.corpus_scheme == "none" and set(unnamed.vocab.corpus_tags) <= {
        str(i) for i in range(9)
    }
    assert "integers without names" in caplog.text and "--data.tag_names" in caplog.text


def test_tag_names_that_do_not_fit_the_tags_are_one_line_errors(tmp_path):
    write_id_corpus(
        tmp_path / "ids", ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER", "B-MISC", "I-MISC"]
    )
    with pytest.raises(DataError, match=r"The train split has tag id \d, but there are 3 tag names"):
        module(tmp_path, path=str(tmp_path / "ids"), tag_names=["O", "B-PER", "I-PER"])
    hf = tmp_path / "strings"
    hf.mkdir()
    for split in ("train", "validation", "test"):
        sents = make_sentences(5, 1)
        datasets.Dataset.from_dict(
            {"tokens": [s[0] for s in sents], "ner_tags": [s[1] for s in sents]}
        ).to_json(str(hf / f"{split}.jsonl"))
    with pytest.raises(
        DataError, match="--data.tag_names names integer tags, but the train split's 'ner_tags' holds"
    ):
        module(tmp_path, path=str(hf), tag_names=["O"], cache_dir=str(tmp_path / "c3"))
