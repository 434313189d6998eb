"""A language model given CoNLL or CoNLL-U files reads their words, one sentence a line (data_modules/conll_text.py):
the same ids as the sentences written as text (the oracle), not the tag columns read as words."""

from __future__ import annotations

import numpy as np
import pytest

from data_modules.errors import DataError
from data_modules.sources import resolve_source
from tests.test_file_kinds import CONLLU
from tests.test_lm_data import prepared
from tests.test_tagging_data import write_corpus

SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def write_text(folder, data) -> None:
    folder.mkdir()
    for split, sents in data.items():
        (folder / f"{split}.txt").write_text("".join(" ".join(words) + "\n" for words, _ in sents))


def test_a_conll_folder_trains_a_language_model_on_its_words(tmp_path):
    """Before: a row a line, `EU NNP I-NP B-ORG`: the tags were words (a vocabulary of tags, -DOCSTART- and
    `# sent_id` lines) and each token a sentence."""
    folder, data = write_corpus(tmp_path)  # word POS chunk NER lines, -DOCSTART-, `# sent_id = N` comments
    write_text(tmp_path / "text", data)
    conll = prepared(tmp_path / "a", path=str(folder), batch_size=2, bptt=5)
    text = prepared(tmp_path / "b", path=str(tmp_path / "text"), batch_size=2, bptt=5)
    assert (
        conll.tokenizer.get_vocab() == text.tokenizer.get_vocab()
        and "B-PER" not in conll.tokenizer.get_vocab()
    )
    for split in SPLITS.values():
        np.testing.assert_array_equal(conll.ids[split], text.ids[split])
    assert resolve_source(str(folder)).fingerprint.endswith(
        "+words"
    )  # never a cache of the lines read as text
    assert not resolve_source(str(tmp_path / "text")).fingerprint.endswith("+words")


def test_a_conllu_treebank_trains_a_language_model_on_its_forms(tmp_path):
    (tmp_path / "ud").mkdir()
    for split in ("train", "dev", "test"):
        (tmp_path / "ud" / f"x-ud-{split}.conllu").write_text(CONLLU * 4)
    (tmp_path / "text").mkdir()
    for split in ("train", "valid", "test"):
        (tmp_path / "text" / f"{split}.txt").write_text("The cat sat\n" * 4)
    ud = prepared(tmp_path / "a", path=str(tmp_path / "ud"), batch_size=1, bptt=3)
    text = prepared(tmp_path / "b", path=str(tmp_path / "text"), batch_size=1, bptt=3)
    np.testing.assert_array_equal(ud.ids["train"], text.ids["train"])


def test_conll_and_text_split_files_together_are_one_line(tmp_path):
    folder, data = write_corpus(tmp_path)
    (folder / "valid.txt").write_text("a sentence of text\nand another one here\n")
    with pytest.raises(
        DataError, match=r"Some split files are CoNLL columns \(test.txt, train.txt\) and some text"
    ):
        prepared(tmp_path / "a", path=str(folder))
