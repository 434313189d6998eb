"""Tagged lines (a sentence a line of `word/TAG` or `word_TAG` tokens; data_modules/tagging/tagged_lines.py): the
same corpus written so and as CoNLL columns (the oracle) gives the same vocabulary and batches; predictions read
their gold tags; a language model reads their words. Before, such files were CoNLL column-count errors for the
tagger, and text whose every word carried its tag for the language model and for `predict`."""

from __future__ import annotations

import numpy as np
import pytest

from data_modules.errors import DataError
from data_modules.tagging.conll import read_prediction_file
from data_modules.tagging.tagged_lines import separator
from tests.test_lm_data import prepared
from tests.test_tagging_data import decoded, make_sentences, module

SENTS = make_sentences(40, 7) + [(["1/2", "cup", "of", "a_b"], ["O", "O", "O", "B-PER"])]
SPLITS = {"train": SENTS[:30] + SENTS[40:], "dev": SENTS[30:35], "test": SENTS[35:40]}


def write_tagged(path, sents, sep: str = "/"):
    path.write_text("".join(" ".join(f"{w}{sep}{t}" for w, t in zip(*s)) + "\n" for s in sents))
    return path


def twins(tmp_path, sep: str):
    tagged, plain = tmp_path / "tagged", tmp_path / "plain"
    tagged.mkdir(), plain.mkdir()
    for split, sents in SPLITS.items():
        write_tagged(tagged / f"{split}.txt", sents, sep)
        (plain / f"{split}.txt").write_text(
            "".join("".join(f"{w} {t}\n" for w, t in zip(*s)) + "\n" for s in sents)
        )
    return tagged, plain


@pytest.mark.parametrize("sep", ["/", "_"])
def test_a_tagged_folder_trains_like_its_conll_twin(tmp_path, sep):
    """The tag follows the last separator (`1/2/O` is the word `1/2`, `a_b_B-PER` the word `a_b`)."""
    tagged, plain = twins(tmp_path, sep)
    a = module(tmp_path / "a", path=str(plain), drop_comments=False)
    b = module(tmp_path / "b", path=str(tagged), drop_comments=False)
    assert b.vocab.artifacts() == a.vocab.artifacts() and b.vocab.corpus_scheme == "iob2"
    assert decoded(b, "train") == decoded(a, "train") and decoded(b, "validation") == decoded(a, "validation")


def test_what_is_not_tagged_lines():
    assert separator("The/DT cat/NN\nsat/VBD ./.\nOK/UH\n") == "/"
    assert separator("The_DT cat_NN sat_VBD\nOK_UH\n") == "_"
    assert separator("EU B-ORG\nrejects O\n\nPeter B-PER\n") is None  # CoNLL columns: one count a line
    assert (
        separator("a/b c/d\ne/f g/h\n") is None
    )  # nor do two columns of slashed words make them tagged lines
    assert separator("see http://x.org/a and b/c\nnothing here\n") is None  # text
    assert separator("1\tThe\tthe\tDET\n2\tcat\tcat\tNOUN\tx\n") is None


def test_a_token_without_its_tag_is_one_line_naming_it(tmp_path):
    bad = write_tagged(tmp_path / "train.txt", SENTS[:30])
    lines = bad.read_text().splitlines()
    lines[2] += " orphan"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"^{bad}:3: token 'orphan' is not word/TAG"):
        module(tmp_path, train_files=str(bad), validation_files=str(bad), test_files=str(bad))


def test_read_as_conll_columns_it_says_which_format_it_is(tmp_path):
    tagged, _ = twins(tmp_path, "/")
    with pytest.raises(
        DataError, match="is one sentence a line of word/TAG tokens, not CoNLL columns: set --data"
    ):
        module(tmp_path, path=str(tagged), format="conll")


def test_a_tagged_prediction_input_gives_its_words_and_gold_tags(tmp_path):
    path = write_tagged(tmp_path / "in.txt", SENTS)
    sentences, gold, fmt = read_prediction_file(str(path))
    assert fmt == "tagged" and list(zip(sentences, gold)) == [tuple(s) for s in SENTS]


def test_a_language_model_reads_the_words_of_tagged_lines(tmp_path):
    tagged, _ = twins(tmp_path, "/")
    (tmp_path / "text").mkdir()
    for split, sents in SPLITS.items():
        (tmp_path / "text" / f"{split}.txt").write_text("".join(" ".join(words) + "\n" for words, _ in sents))
    a = prepared(tmp_path / "a", path=str(tagged), batch_size=2, bptt=5)
    b = prepared(tmp_path / "b", path=str(tmp_path / "text"), batch_size=2, bptt=5)
    assert a.tokenizer.get_vocab() == b.tokenizer.get_vocab() and "B-PER" not in a.tokenizer.get_vocab()
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(a.ids[split], b.ids[split])
