"""`evaluate CKPT --data.test_files FILE`: a user's own file, given alone as the split to score, scores as the same
text does inside a corpus, with the checkpoint's vocabularies, and no other split is read or tokenized."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from seqeval.metrics import f1_score

import pipeline
from pipeline.__main__ import main
from tests.tiny_models import train_lm, train_tagger


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    return train_lm(tmp_path_factory.mktemp("eval-files-lm"))


@pytest.fixture(scope="module")
def tagger_run(tmp_path_factory) -> Path:
    return train_tagger(tmp_path_factory.mktemp("eval-files-tagger"))


def evaluate(ckpt: Path, out: Path, *extra: str) -> dict:
    assert (
        main(["evaluate", str(ckpt), "--output", str(out), "--trainer.enable_progress_bar", "false", *extra])
        == 0
    )
    return json.loads(out.read_text())


def test_a_text_file_alone_scores_as_it_does_as_the_corpus_test_split(lm_run, tmp_path):
    ckpt, corpus = lm_run / "checkpoints" / "best.ckpt", lm_run.parent.parent / "lm-corpus"
    whole = evaluate(ckpt, tmp_path / "a.json", "--data.cache_dir", str(tmp_path / "a"))
    alone = evaluate(ckpt, tmp_path / "b.json", "--data.cache_dir", str(tmp_path / "b"),
                     "--data.test_files", str(corpus / "test.txt"))  # fmt: skip
    assert (alone["ppl"], alone["tokens"]) == (whole["ppl"], whole["tokens"])
    for cache in ("a", "b"):  # only the scored split was tokenized, in both routes
        assert len(list((tmp_path / cache).glob("ids-*.npy"))) == 1


def test_a_users_text_scores_as_the_python_api_scores_it(lm_run, tmp_path):
    ckpt, corpus = lm_run / "checkpoints" / "best.ckpt", lm_run.parent.parent / "lm-corpus"
    mine = tmp_path / "mine.txt"
    lines = (corpus / "train.txt").read_text().split("\n")[5:40]  # any text in the model's vocabulary
    mine.write_text("\n".join(lines) + "\n")
    scored = evaluate(ckpt, tmp_path / "m.json", "--split", "validation", "--data.validation_files", str(mine),
                      "--data.eval_batch_size", "1", "--data.cache_dir", str(tmp_path / "c"))  # fmt: skip
    lm = pipeline.load(ckpt)
    assert scored["ppl"] == pytest.approx(lm.perplexity(lines), rel=1e-6)
    assert scored["tokens"] == sum(len(lm.encode(t)) for t in lines)


def test_a_split_the_files_do_not_give_is_a_one_line_error(lm_run, tagger_run, tmp_path, capsys):
    for run in (lm_run, tagger_run):
        some = (
            tmp_path / f"{run.name}.txt"
        )  # outside the run's data folder, which would give the other splits
        some.write_text(next((run.parent.parent).glob("*/test.txt")).read_text())
        code = main(["evaluate", str(run / "checkpoints" / "best.ckpt"), "--split", "validation",
                     "--data.test_files", str(some), "--data.cache_dir", str(tmp_path / run.name)])  # fmt: skip
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
        assert code == 2 and len(errors) == 1 and "no validation split (it has test)" in errors[0], errors


def test_a_conll_file_alone_scores_the_f1_seqeval_gives_its_predictions(tagger_run, tmp_path):
    ckpt = tagger_run / "checkpoints" / "best.ckpt"
    blocks = (tagger_run.parent.parent / "ner" / "test.txt").read_text().split("\n\n")[1:9]
    few = tmp_path / "few.txt"
    few.write_text("\n\n".join(blocks) + "\n")
    scored = evaluate(ckpt, tmp_path / "f.json", "--data.test_files", str(few),
                      "--data.cache_dir", str(tmp_path / "c"))  # fmt: skip
    assert main(["predict", str(ckpt), "--input", str(few), "--output", str(tmp_path / "pred.txt"),
                 "--trainer.enable_progress_bar", "false"]) == 0  # fmt: skip
    sentences = [b.splitlines() for b in (tmp_path / "pred.txt").read_text().strip().split("\n\n")]
    gold = [[line.split()[1] for line in s] for s in sentences]
    predicted = [[line.split()[2] for line in s] for s in sentences]
    assert scored["f1"] == pytest.approx(100 * f1_score(gold, predicted), abs=1e-6)


def test_output_dash_prints_the_json_alone_on_stdout(lm_run, run_cli, tmp_path):
    ckpt = lm_run / "checkpoints" / "best.ckpt"
    written = evaluate(ckpt, tmp_path / "e.json", "--data.cache_dir", str(tmp_path / "c"))
    piped = run_cli(
        "evaluate", str(ckpt), "--output", "-", "--data.cache_dir", str(tmp_path / "c"), cwd=tmp_path
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout) == written  # nothing else on stdout: the table went to stderr
    assert "ppl" in piped.stderr and not (tmp_path / "-").exists()


def test_a_tagger_evaluation_reads_and_encodes_only_the_scored_split(tagger_run, tmp_path):
    """The corpus route scores as before with train unreadable (its file is never parsed) and caches one split."""
    ckpt, corpus = tagger_run / "checkpoints" / "best.ckpt", tagger_run.parent.parent / "ner"
    whole = evaluate(ckpt, tmp_path / "a.json", "--data.cache_dir", str(tmp_path / "a"))
    broken = tmp_path / "broken"
    broken.mkdir()
    for split in ("train", "valid", "test"):
        (broken / f"{split}.txt").write_bytes((corpus / f"{split}.txt").read_bytes())
    (broken / "train.txt").write_bytes(b"\xff\xfe not UTF-8, not CoNLL\n")
    alone = evaluate(
        ckpt, tmp_path / "b.json", "--data.path", str(broken), "--data.cache_dir", str(tmp_path / "b")
    )
    assert (alone["f1"], alone["accuracy"]) == (whole["f1"], whole["accuracy"])
    for cache in ("a", "b"):
        (entry,) = (tmp_path / cache).glob("tagging-*")
        assert sorted(p.name for p in (entry / "data").iterdir() if p.is_dir()) == ["test"]


def test_an_lm_evaluation_reads_only_the_scored_splits_text(lm_run, tmp_path, caplog):
    """The corpus route scores as before with train not even text (its file is never read: at 1 GB, converting it
    was the cost of an evaluation of a 1 MB test file), and names only the file it reads."""
    ckpt, corpus = lm_run / "checkpoints" / "best.ckpt", lm_run.parent.parent / "lm-corpus"
    whole = evaluate(ckpt, tmp_path / "a.json", "--data.cache_dir", str(tmp_path / "a"))
    broken = tmp_path / "broken"
    broken.mkdir()
    for split in ("valid", "test"):
        (broken / f"{split}.txt").write_bytes((corpus / f"{split}.txt").read_bytes())
    (broken / "train.txt").write_bytes(b"\xff\xfe not UTF-8\n")
    with caplog.at_level("INFO", logger="data_modules.split_files"):
        alone = evaluate(
            ckpt, tmp_path / "b.json", "--data.path", str(broken), "--data.cache_dir", str(tmp_path / "b")
        )
    assert (alone["ppl"], alone["tokens"]) == (whole["ppl"], whole["tokens"])
    assert f"Reading {broken}: test=test.txt" in caplog.messages
