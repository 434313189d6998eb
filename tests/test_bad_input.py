"""One test per row of README's "When something is wrong" table: one clear message, exit status 2,
no traceback, and nothing already on disk changed (the run directory of an earlier run, an old output)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from pipeline.__main__ import main
from tests.conftest import CONF


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, lm_corpus, tiny_lm_args) -> dict:
    """A finished run, its checkpoint, and an evaluation output file that a failing command must not touch."""
    work = tmp_path_factory.mktemp("earlier")
    assert main(["train", *tiny_lm_args(work, lm_corpus)]) == 0
    out = work / "m.json"
    out.write_text('{"old": true}\n')
    return {
        "work": work,
        "run": work / "runs" / "tiny",
        "ckpt": work / "runs" / "tiny" / "checkpoints" / "best.ckpt",
        "out": out,
    }


def copy_corpus(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def lm_train(earlier: dict, tiny_lm_args, corpus: Path, *extra: str) -> list[str]:
    """`train` of the earlier run's name and folders: a failure must leave that run as it was."""
    return ["train", *tiny_lm_args(earlier["work"], corpus), *extra]


def tagger_train(earlier: dict, corpus: Path) -> list[str]:
    work = earlier["work"]
    return [
        "train", "--config", str(CONF / "tagger" / "demo.yaml"), "--data.path", str(corpus), "--name", "tiny",
        "--runs_dir", str(work / "runs"), "--data.cache_dir", str(work / "cache"), "--wandb.mode", "disabled",
    ]  # fmt: skip


def conll_corpus(folder: Path) -> Path:
    folder.mkdir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        (folder / name).write_text("w1 S0\nw2 S1\n\nw3 S1\nw1 S0\n")
    return folder


def case_unknown_key(e, args, tmp, corpus):
    return lm_train(e, args, corpus, "--data.batchsize", "3"), "Did you mean 'data.batch_size'"


def case_wrong_type(e, args, tmp, corpus):
    return lm_train(
        e, args, corpus, "--data.batch_size", "many"
    ), "Bad value for --data.batch_size: 'many'; expected int."


def case_missing_path(e, args, tmp, corpus):
    return lm_train(e, args, tmp / "nowhere"), "does not exist"


def case_empty_split(e, args, tmp, corpus):
    bad = copy_corpus(corpus, tmp / "c")
    (bad / "valid.txt").write_text("")
    return lm_train(e, args, bad), "The validation split is empty"


def case_missing_column(e, args, tmp, corpus):
    two = tmp / "two"  # two string columns, neither the recipe's (one would stand in for it)
    two.mkdir()
    for name in ("train", "valid", "test"):
        (two / f"{name}.jsonl").write_text('{"title": "t", "body": "w1 w2"}\n')
    return lm_train(e, args, two), "has no text column 'text'"


def case_invalid_utf8(e, args, tmp, corpus):
    bad = copy_corpus(corpus, tmp / "c")
    (bad / "test.txt").write_bytes(b"w1 w2\nw3 \xff w4\n")
    return lm_train(e, args, bad), f"{bad / 'test.txt'}: invalid UTF-8 at byte offset 9"


def case_missing_tokenizer(e, args, tmp, corpus):
    return lm_train(
        e, args, corpus, "--data.tokenizer_file", str(tmp / "tok.json")
    ), "tok.json' does not exist"


def case_malformed_conll(e, args, tmp, corpus):
    bad = conll_corpus(tmp / "c")
    (bad / "train.txt").write_text("w1 S0\nw2\n\n")
    return tagger_train(e, bad), f"{bad / 'train.txt'}:2"


def case_tagged_line_without_a_tag(e, args, tmp, corpus):
    bad = conll_corpus(tmp / "c")
    for name in ("train.txt", "valid.txt", "test.txt"):
        (bad / name).write_text("w1/S0 w2/S1\nw3/S1 w1/S0 w2/S1\nw1/S0 w2/S1 w3/S0 w1/S0 w2/S1 w3/S1 w1/S0\n")
    (bad / "train.txt").write_text((bad / "train.txt").read_text() * 5 + "w1/S0 w2\n")
    return tagger_train(e, bad), f"{bad / 'train.txt'}:16: token 'w2' is not word/TAG"


def case_unreadable_data_file(e, args, tmp, corpus):
    bad = tmp / "json"
    bad.mkdir()
    for name in ("train", "valid", "test"):
        (bad / f"{name}.jsonl").write_text('{"text": "w1 w2"}\n{"text": "w3"\n')
    return lm_train(e, args, corpus, "--data.train_files", str(bad / "train.jsonl"), "--data.validation_files",
                    str(bad / "valid.jsonl"), "--data.test_files", str(bad / "test.jsonl")), "JSON parse error"  # fmt: skip


def case_conllu_read_as_conll_columns(e, args, tmp, corpus):
    # a treebank named .txt, read by a recipe of word/tag lines
    bad = conll_corpus(tmp / "c")
    row = "{}\tw{}\tw{}\tS{}\t_\t_\t0\troot\t_\t_\n"
    for name in ("train.txt", "valid.txt", "test.txt"):
        (bad / name).write_text(row.format(1, 1, 1, 0) + row.format(2, 2, 2, 1) + "\n")
    expected = "is CoNLL-U (ten tab-separated columns, IDs first)"
    return [*tagger_train(e, bad), "--data.format", "conll"], expected


def case_conll_columns_against_their_content(e, args, tmp, corpus):
    # Universal NER files (`ID word tag - -`) read by the demo recipe's explicit columns 0 and 1
    bad = conll_corpus(tmp / "c")
    for name in ("train.txt", "valid.txt", "test.txt"):
        (bad / name).write_text("# sent_id = 1\n1\tw1\tS0\t-\t-\n2\tw2\tS1\t-\t-\n\n")
    return tagger_train(e, bad), "column 0 numbers the words (1, 2, 3, ...), so it holds no tokens"


def case_one_token_a_row_without_sentences(e, args, tmp, corpus):
    table = tmp / "t"
    table.mkdir()
    for name in ("train.csv", "valid.csv", "test.csv"):
        (table / name).write_text("word,tag\nw1,S0\nw2,S1\n")
    cmd = [*tagger_train(e, table), "--data.tokens_column", "word", "--data.tags_column", "tag"]
    return cmd, "holds one token a row ('word'), and no one column says where sentences start"


def case_conll_and_text_for_a_language_model(e, args, tmp, corpus):
    mixed = copy_corpus(corpus, tmp / "mixed")
    (mixed / "valid.txt").write_text("-DOCSTART- -X- O\n\nw1 NN O\nw2 NN O\n\nw3 NN O\nw1 NN O\n")
    return lm_train(e, args, mixed), "Some split files are CoNLL columns (valid.txt) and some text"


def case_split_files_of_two_kinds(e, args, tmp, corpus):
    (tmp / "train.jsonl").write_text('{"text": "w1 w2"}\n')
    files = ["--data.train_files", str(tmp / "train.jsonl"), "--data.validation_files", str(corpus / "valid.txt"),
             "--data.test_files", str(corpus / "test.txt")]  # fmt: skip
    return lm_train(
        e, args, corpus, *files
    ), "The split files are of different kinds (test.txt, train.jsonl, valid"


def case_no_validation_split(e, args, tmp, corpus):
    # An unseen test tag used to be the error here; issue 11 scores it (tests/test_corpora.py).
    bad = conll_corpus(tmp / "c")
    (bad / "valid.txt").unlink()
    return tagger_train(e, bad), "no validation split (it has test, train): set --data.validation_split 0.1"


def case_empty_tag_column(e, args, tmp, corpus):
    treebank = tmp / "ud"
    treebank.mkdir()
    for split in (
        "train",
        "dev",
        "test",
    ):  # XPOS is '_' throughout, as in treebanks without language-specific tags
        (treebank / f"x-ud-{split}.conllu").write_text("1\tw1\tw1\tNOUN\t_\t_\t0\troot\t_\t_\n\n")
    return [*tagger_train(e, treebank), "--data.conllu_column", "xpos"], "Every training tag is '_'"


def case_checkpoint_data_mismatch(e, args, tmp, corpus):
    other = tmp / "other"
    other.mkdir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        (other / name).write_text("completely different words here\n" * 20)
    cmd = [
        "evaluate",
        str(e["ckpt"]),
        "--data.path",
        str(other),
        "--output",
        str(e["out"]),
        "--data.cache_dir",
        str(tmp / "cache"),
    ]
    return cmd, "of its tokens are unknown to it"


def case_corrupt_checkpoint(e, args, tmp, corpus):
    bad = tmp / "bad.ckpt"
    bad.write_bytes(e["ckpt"].read_bytes()[:1000])
    return ["evaluate", str(bad), "--output", str(e["out"])], "is truncated or corrupt"


CASES = [case_unknown_key, case_wrong_type, case_missing_path, case_empty_split, case_missing_column, case_invalid_utf8,
         case_missing_tokenizer, case_malformed_conll, case_tagged_line_without_a_tag, case_unreadable_data_file,
         case_conllu_read_as_conll_columns,
         case_conll_columns_against_their_content, case_one_token_a_row_without_sentences,
         case_conll_and_text_for_a_language_model,
         case_split_files_of_two_kinds, case_no_validation_split, case_empty_tag_column,
         case_checkpoint_data_mismatch, case_corrupt_checkpoint]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__[5:])
def test_bad_input_is_one_clear_message_and_changes_nothing(
    case, earlier, tiny_lm_args, lm_corpus, tmp_path, capsys
):
    before = snapshot(earlier["work"] / "runs")
    out_before = earlier["out"].read_text()
    capsys.readouterr()
    command, expected = case(earlier, tiny_lm_args, tmp_path, lm_corpus)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert expected in err
    # Progress bars of the work done before the problem may precede it; the message is the last line.
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert snapshot(earlier["work"] / "runs") == before
    assert earlier["out"].read_text() == out_before
    assert json.loads(out_before) == {"old": True}
