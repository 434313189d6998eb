"""A run's console holds the run's own messages: no library warnings about choices the pipeline made on purpose."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from pipeline.callbacks import ProgressBar
from tests.test_tagger_cli import ner_corpus, tagger_args  # noqa: F401 (a fixture)

SHORT = ["--trainer.max_epochs", "1", "--trainer.log_every_n_steps", "5"]  # the tiny corpus has 20 batches


@pytest.mark.parametrize("wandb", ["offline", "disabled"])
def test_a_training_run_prints_no_warning(run_cli, tmp_path, lm_corpus, tiny_lm_args, wandb):
    done = run_cli("train", *tiny_lm_args(tmp_path, lm_corpus), "--wandb.mode", wandb)
    assert done.returncode == 0, done.stderr
    assert warnings_in(done) == []


def warnings_in(done) -> list[str]:
    """A library's warnings: its own "WARNING" prefix, or Python's warnings format "file.py:LINE: message"."""
    return [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "warn" in line.lower() or re.search(r"\.py:\d+: ", line)
    ]


def test_a_tagger_run_prints_no_warning(run_cli, tmp_path, ner_corpus):  # noqa: F811
    done = run_cli("train", *tagger_args(tmp_path, ner_corpus), *SHORT)
    assert done.returncode == 0, done.stderr
    assert warnings_in(done) == []


def test_the_bar_names_no_last_epoch_when_there_is_none():
    """Lightning's bar wrote "Epoch 0/-2" for max_epochs -1 (no limit: max_steps or max_time ends the run)."""
    bar = ProgressBar()
    bar._trainer = SimpleNamespace(max_epochs=-1)
    assert bar._get_train_description(0).strip() == "Epoch 0"
    bar._trainer = SimpleNamespace(max_epochs=3)
    assert bar._get_train_description(1).strip() == "Epoch 1/2"
