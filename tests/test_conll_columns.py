"""CoNLL files whose columns are not `word ... tag`: the layouts of real corpora read as the sentences they were
written from (the oracle: the generated tokens and tags), comments told from `#` tokens, explicit indices that
contradict the content refused in one line, and the split-file names of Universal NER, GermEval and BioBERT."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from data_modules.errors import DataError
from data_modules.split_files import split_files
from data_modules.tagging import conll_columns
from data_modules.tagging.conll import CONLL_EXTENSIONS, read_conll, read_prediction_file
from pipeline.commands.predict import columns
from tests.test_tagging_data import decoded, make_sentences, module

SENTS = make_sentences(40, 7)


def write(path: Path, sents, line, header=lambda i, words: []) -> Path:
    """One sentence after another: `header(i, words)` lines, then `line(position, word, tag)` per token."""
    out: list[str] = []
    for i, (words, tags) in enumerate(sents):
        out += header(i, words)
        out += [line(k, w, t) for k, (w, t) in enumerate(zip(words, tags), start=1)]
        out.append("")
    path.write_text("\n".join(out) + "\n")
    return path


def uner_header(i, words):
    return [f"# sent_id = en_ewt-ud-train-{i:04d}", f"# text = {' '.join(words)}"]


LAYOUTS = {
    "conll2003": (lambda k, w, t: f"{w} NNP B-NP {t}", lambda i, words: []),
    "mit_movie": (lambda k, w, t: f"{t}\t{w}", lambda i, words: []),
    "universal_ner": (lambda k, w, t: f"{k}\t{w}\t{t}\t-\t-", uner_header),
    "numbered": (lambda k, w, t: f"{k}\t{w}\t{t}", lambda i, words: [f"# source = doc{i} [2009-10-17]"]),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_reads_as_the_sentences_it_was_written_from(tmp_path, layout):
    line, header = LAYOUTS[layout]
    path = write(tmp_path / "train.txt", SENTS, line, header)
    assert read_conll(str(path)) == ([w for w, _ in SENTS], [t for _, t in SENTS])


def test_germeval_comments_and_explicit_tag_column(tmp_path, caplog):
    """GermEval 2014: `# http://... [date]` before each sentence, `ID word outer inner`; the outer column is the task."""
    path = write(
        tmp_path / "NER-de-train.tsv",
        SENTS,
        lambda k, w, t: f"{k}\t{w}\t{t}\tO",
        lambda i, words: [f"# http://de.wikipedia.org/wiki/Page_{i} [2009-10-17]"],
    )
    assert read_conll(str(path), tag_index=2) == ([w for w, _ in SENTS], [t for _, t in SENTS])
    with caplog.at_level(logging.INFO, logger="data_modules.tagging.conll_columns"):
        conll_columns._SAID.clear()
        assert read_conll(str(path))[1] == [["O"] * len(t) for _, t in SENTS]  # auto: the last, inner column
    assert (
        "tags in column 3; column 2 holds chunk tags too (--data.conll_tag_index 2 trains on it)"
        in caplog.text
    )


def test_hash_is_a_token_where_it_has_the_sentence_columns(tmp_path):
    """Penn Treebank chunks write the pound sign as `# # B-NP`: a token, first in its sentence or not."""
    path = tmp_path / "train.txt"
    path.write_text(
        "# sent_id = 1\n# # B-NP\n12 CD I-NP\n\n# a free comment\nprice NN B-NP\n# # B-NP\n\n# newdoc\n\n"
    )
    assert read_conll(str(path)) == ([["#", "12"], ["price", "#"]], [["B-NP", "I-NP"], ["B-NP", "B-NP"]])


@pytest.mark.parametrize(
    ("layout", "token", "tag", "message"),
    [
        ("universal_ner", 0, 2, r"column 0 numbers the words .*--data.conll_token_index 1 \(or auto\)"),
        ("universal_ner", 1, -1, r"the last column is '-' or '_' on every line, so it holds no tags"),
        (
            "mit_movie",
            0,
            -1,
            r"column 0 holds tags .* swapped; set --data.conll_token_index -1 --data.conll_tag_index 0",
        ),
        ("conll2003", 0, 6, r"train.txt:1: expected 7 columns, found 4"),
    ],
)
def test_explicit_columns_that_contradict_the_content_are_one_line(tmp_path, layout, token, tag, message):
    line, header = LAYOUTS[layout]
    path = write(tmp_path / "train.txt", SENTS, line, header)
    with pytest.raises(DataError, match=message):
        read_conll(str(path), token, tag)


def test_prediction_inputs_find_their_columns(tmp_path):
    line, header = LAYOUTS["universal_ner"]
    path = write(tmp_path / "in.iob2", SENTS[:5], line, header)
    assert read_prediction_file(str(path)) == ([w for w, _ in SENTS[:5]], [t for _, t in SENTS[:5]], "conll")
    words = write(tmp_path / "words.iob2", SENTS[:5], lambda k, w, t: f"{k}\t{w}\t-")
    assert read_prediction_file(str(words)) == ([w for w, _ in SENTS[:5]], None, "conll")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["en_ewt-ud-train.iob2", "en_ewt-ud-dev.iob2", "en_ewt-ud-test.iob2"], None),
        (["NER-de-train.tsv", "NER-de-dev.tsv", "NER-de-test.tsv"], None),
        (["train.tsv", "devel.tsv", "test.tsv", "train_dev.tsv"], ["train.tsv", "devel.tsv", "test.tsv"]),
        (
            ["ptb.train.txt", "ptb.char.train.txt", "ptb.valid.txt", "ptb.test.txt"],
            ["ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"],
        ),
    ],
)
def test_split_file_names_of_real_corpora(tmp_path, names, expected):
    for name in names:
        (tmp_path / name).write_text("a O\n")
    found = split_files(tmp_path, CONLL_EXTENSIONS)
    assert {s: Path(v[0]).name for s, v in found.items()} == dict(
        zip(("train", "validation", "test"), expected or names)
    )


def test_a_universal_ner_folder_trains_like_its_conll_twin(tmp_path):
    """The same corpus as UNER files (`ID word tag - -` under `# sent_id`/`# text`) and as `word tag` lines gives
    the same vocabulary and batches with the NER recipe's `auto` columns."""
    uner, plain = tmp_path / "uner", tmp_path / "plain"
    uner.mkdir(), plain.mkdir()
    splits = {"train": SENTS[:30], "dev": SENTS[30:35], "test": SENTS[35:]}
    for split, sents in splits.items():
        write(uner / f"en_ewt-ud-{split}.iob2", sents, *LAYOUTS["universal_ner"])
        write(plain / f"{split}.txt", sents, lambda k, w, t: f"{w} {t}")
    a = module(tmp_path / "a", path=str(plain), drop_comments=False)
    b = module(tmp_path / "b", path=str(uner), drop_comments=False)
    assert b.vocab.artifacts() == a.vocab.artifacts() and b.vocab.corpus_scheme == "iob2"
    assert decoded(b, "train") == decoded(a, "train") and decoded(b, "validation") == decoded(a, "validation")


def test_tokens_with_spaces_in_tab_separated_files_stay_whole(tmp_path):
    """Before: `New York\tB-LOC` was 'expected 2 columns, found 3', and a no-break space (`10\u00a0000`, French
    numbers) split one token in two."""
    words = [["They", "moved", "to", "New York", "for", "10\u00a0000", "dollars"], ["Peter", "left"]]
    tags = [["O", "O", "O", "B-LOC", "O", "O", "O"], ["B-PER", "O"]]
    tabbed = tmp_path / "train.tsv"
    tabbed.write_text(
        "".join("".join(f"{w}\t{t}\n" for w, t in zip(ws, ts)) + "\n" for ws, ts in zip(words, tags))
    )
    assert read_conll(str(tabbed)) == (words, tags)
    spaced = tmp_path / "train.txt"
    spaced.write_text("10\u00a0000 NUM O\nmen NNS O\n\n")
    assert read_conll(str(spaced)) == ([["10\u00a0000", "men"]], [["O", "O"]])
    predicted = columns(words, tags, tags)  # predict's output: tab-separated, as read
    (tmp_path / "pred.txt").write_text(predicted)
    assert read_conll(str(tmp_path / "pred.txt")) == (words, tags) and "New York\tB-LOC\tB-LOC\n" in predicted
    assert columns([["a", "b"]], None, [["O", "O"]]) == "a O\nb O\n\n"
