"""Classes 1-4 of issue 12: no command destroys what it did not create, one writer per run, a run knows
what it is, and resume never silently starts over."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data_modules.entries import hold
from pipeline.__main__ import main
from pipeline.errors import PipelineError
from pipeline.runs import Run
from tests.conftest import write_hmm_corpus

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but the lock's (it names the latest holder)."""
    files = (p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock")
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def refused(capsys, args: list[str], *words: str) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    # (progress bars of `datasets` may come first when the data had to be read to find the error)
    assert "Traceback" not in err and [ln for ln in err.splitlines() if "error" in ln.lower()] == [
        err.strip().splitlines()[-1]
    ], err
    for w in words:
        assert w in err, err
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_lm_args):
    """A finished tiny LM run with periodic checkpoints; tests copy it before changing anything."""
    work = tmp_path_factory.mktemp("hostile-runs")
    corpus = work / "corpus"
    write_hmm_corpus(corpus)
    args = [*tiny_lm_args(work, corpus, name="base"), "--checkpoint.every_n_train_steps", "10"]
    assert main(["train", *args]) == 0
    return work, corpus, args


def copy_run(trained, tmp_path) -> tuple[list[str], Path]:
    work, corpus, args = trained
    shutil.copytree(work / "runs", tmp_path / "runs")
    args = [a.replace(str(work / "runs"), str(tmp_path / "runs")) for a in args]
    return args, tmp_path / "runs" / "base"


def with_option(args: list[str], key: str, value: str) -> list[str]:
    args = list(args)
    if key in args:
        args[args.index(key) + 1] = value
        return args
    return [*args, key, value]


# ---- 1. no command destroys what it did not create ---------------------------------------------------------
@pytest.mark.parametrize("name", [".", "..", "a/b", "/abs/dir", "../runs", "a\\b"])
def test_name_is_one_component_and_fresh_never_deletes_outside(name, trained, tmp_path, capsys):
    args, run = copy_run(trained, tmp_path)
    outside = tmp_path / "abs"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    before = snapshot(tmp_path)
    name = str(outside) if name == "/abs/dir" else name
    refused(capsys, ["train", *with_option(args, "--name", name), "--fresh", "true"], "single folder name")
    assert snapshot(tmp_path) == before


def test_fresh_refuses_a_folder_that_is_no_run(trained, tmp_path, capsys):
    args, run = copy_run(trained, tmp_path)
    foreign = tmp_path / "runs" / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    refused(capsys, ["train", *with_option(args, "--name", "mine"), "--fresh", "true"], "not a run directory")
    assert (foreign / "thesis.tex").read_text() == "years of work"


def test_outputs_never_overwrite_what_a_command_reads(trained, tmp_path, capsys):
    args, run = copy_run(trained, tmp_path)
    ckpt = run / "checkpoints" / "last.ckpt"
    before = snapshot(run)
    refused(capsys, ["evaluate", str(ckpt), "--output", str(ckpt)], "which this command reads")
    refused(capsys, ["evaluate", str(ckpt), "--output", str(tmp_path)], "is a folder")
    (tmp_path / "afile").write_text("x")
    refused(
        capsys, ["evaluate", str(ckpt), "--output", str(tmp_path / "afile" / "out.json")], "cannot be written"
    )
    gold = tmp_path / "gold.conll"
    gold.write_text("EU B-ORG\nrejects O\n\n")
    tagger = str(FIXTURES / "old-tagger.ckpt")
    refused(
        capsys, ["predict", tagger, "--input", str(gold), "--output", str(gold)], "which this command reads"
    )
    refused(capsys, ["predict", tagger, "--input", str(gold), "--output", tagger], "which this command reads")
    assert gold.read_text() == "EU B-ORG\nrejects O\n\n"
    # a run directory that would hold the corpus it reads
    work, corpus, _ = trained
    inside = with_option(with_option(args, "--runs_dir", str(corpus.parent)), "--name", corpus.name)
    refused(capsys, ["train", *inside], "which this command reads")
    assert snapshot(run) == before


# ---- 2. one writer per run -----------------------------------------------------------------------------------
def test_second_train_of_a_run_fails_at_once_naming_the_holder(trained, tmp_path, capsys):
    args, run = copy_run(trained, tmp_path)
    before = snapshot(run)
    with hold(run / ".lock", "test"):
        err = refused(capsys, ["train", *args], "is in use by", "pid")
        refused(capsys, ["train", *args, "--fresh", "true"], "is in use by")
    assert snapshot(run) == before
    assert "since" in err


def test_a_stale_lock_of_a_dead_process_is_taken_over(trained, tmp_path, capsys):
    args, run = copy_run(trained, tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (run / ".lock").write_text(f"otherhost pid {dead.stdout.strip()} since 00:00:00\n")
    assert main(["train", *with_option(args, "--trainer.max_epochs", "2")]) == 0


# ---- 3. a run knows what it is ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "named"),
    [("--data.path", "OTHER", "data.path"), ("--model.hidden_size", "24", "model.hidden_size"),
     ("--data.min_frequency", "2", "data.min_frequency"), ("--task", "tagger", "task")],
)  # fmt: skip
def test_resume_with_other_task_data_or_model_is_refused(key, value, named, trained, tmp_path, capsys):
    args, run = copy_run(trained, tmp_path)
    if value == "OTHER":
        value = str(tmp_path / "other")
        write_hmm_corpus(Path(value), seed=5)
    before = snapshot(run)
    new = with_option(args, key, value)
    if key == "--task":  # a tagger recipe under the LM run's name
        conll = tmp_path / "conll"
        conll.mkdir()
        for split in ("train", "valid", "test"):
            (conll / f"{split}.txt").write_text("EU B-ORG\nrejects O\nGerman B-MISC\n\n" * 20)
        new = ["--task", "tagger", "--data.path", str(conll), "--runs_dir", str(tmp_path / "runs"),
               "--name", "base", "--wandb.mode", "disabled", "--data.cache_dir", str(tmp_path / "cache")]  # fmt: skip
    refused(capsys, ["train", *new], named, "--fresh", "--name")
    assert snapshot(run) == before


def test_without_its_config_file_a_run_is_known_by_its_checkpoint(trained, tmp_path, capsys):
    args, run = copy_run(trained, tmp_path)
    (run / "config.yaml").unlink()
    (run / "tokenizer.json").unlink()
    before = snapshot(run)
    refused(capsys, ["train", *with_option(args, "--model.hidden_size", "24")], "model.hidden_size: 16 -> 24")
    assert snapshot(run) == before


def test_same_data_content_under_the_same_settings_but_other_words_is_refused(trained, tmp_path, capsys):
    """The corpus changed in place (same path, same config): the vocabulary differs, so the run refuses."""
    args, run = copy_run(trained, tmp_path)
    work, corpus, _ = trained
    changed = tmp_path / "corpus"
    shutil.copytree(corpus, changed)
    (changed / "train.txt").write_text((changed / "train.txt").read_text().replace("w1 ", "zz "))
    args = with_option(args, "--data.path", str(changed))
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace(str(corpus), str(changed)))
    before = snapshot(run)
    refused(capsys, ["train", *args], "tokenizer.json differ")
    assert snapshot(run) == before


def test_safe_changes_resume(trained, tmp_path, capsys, caplog):
    args, run = copy_run(trained, tmp_path)
    caplog.set_level("INFO")
    assert main(["train", *with_option(args, "--trainer.max_epochs", "2")]) == 0
    assert "trainer.max_epochs" in caplog.text and "resuming from" in caplog.text


# ---- 4. resume never silently starts over ------------------------------------------------------------------------
def test_resume_takes_the_newest_loadable_checkpoint(trained, tmp_path, caplog):
    args, run_dir = copy_run(trained, tmp_path)
    run = Run(run_dir)
    last = run.last
    last.write_bytes(last.read_bytes()[:300])  # truncated
    chosen = run.resume_path()
    assert chosen is not None and chosen.name.startswith("step-")
    assert "Skipped damaged" in caplog.text
    for p in run.checkpoints.glob("step-*.ckpt"):
        p.unlink()
    assert run.resume_path() == run.best
    assert "best.ckpt" in caplog.text


def test_a_run_with_only_damaged_checkpoints_is_an_error_not_a_fresh_start(trained, tmp_path, capsys):
    args, run_dir = copy_run(trained, tmp_path)
    for p in (run_dir / "checkpoints").glob("*.ckpt"):
        p.write_bytes(b"not a checkpoint")
    (run_dir / "checkpoints" / "last.ckpt").unlink()
    before = snapshot(run_dir)
    with pytest.raises(PipelineError, match="none is loadable"):
        Run(run_dir).resume_path()
    refused(capsys, ["train", *args], "none is loadable", "--fresh")
    after = snapshot(run_dir)
    assert {k: v for k, v in after.items() if k != ".lock"} == {
        k: v for k, v in before.items() if k != ".lock"
    }
