"""Training values reach the progress bar without a host read per step: Lightning turns every `prog_bar=True`
value into a Python number after every batch (on a GPU a wait for all queued kernels), so they are logged
without it and `pipeline.callbacks.ProgressBar` reads them when it draws."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from pipeline.callbacks import ProgressBar
from tests.conftest import ROOT, write_hmm_corpus
from tests.tiny_models import lm_args, ner_corpus, tagger_args


@pytest.mark.parametrize("task", ["lm", "tagger"])
def test_lightning_reads_no_training_value_on_steps_that_log_nothing(tmp_path, task):
    if task == "lm":
        corpus = tmp_path / "lm-corpus"
        corpus.mkdir()
        write_hmm_corpus(corpus, tokens=6000)
        args = lm_args(tmp_path, corpus, task)
    else:
        args = tagger_args(tmp_path, ner_corpus(tmp_path / "ner"), task)
    args += ["--trainer.max_steps", "30", "--trainer.max_epochs", "-1", "--trainer.log_every_n_steps", "5",
             "--trainer.enable_progress_bar", "true"]  # fmt: skip
    out = tmp_path / "syncs.json"
    # benchmarks.gpu_syncs records, on the CPU, every read of a tensor's value with its Python stack
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_syncs", str(out), "3", "25", "train", *args],
        cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    sites = json.loads(out.read_text())["syncs_per_step"]
    # Lightning's result collection (result.py) converted the progress-bar values after every batch: 2-3 reads
    # a step before; now only the loggers' writes every 5th step read values (logger_connector.log_metrics).
    per_step = sum(n for site, n in sites.items() if "result.py" in site)
    assert per_step <= 3 / 5 + 1e-9, sites


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = ((self.net(x) - y) ** 2).mean()
        self.log("train/loss", loss)
        self.last = float(loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def test_the_progress_bar_shows_the_training_values(tmp_path):
    data = torch.utils.data.TensorDataset(torch.randn(12, 3), torch.randn(12, 1))
    bar, module = ProgressBar(), Tiny()
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=4, logger=False, callbacks=[bar], enable_checkpointing=False,
        enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=3))
    shown = bar.get_metrics(trainer, module)
    assert shown["train/loss"] == pytest.approx(module.last)
    assert "train/loss" not in trainer.progress_bar_metrics  # not through Lightning's per-batch conversion
    # Lightning's drawing thread wakes refresh_rate times a second (100 by default: 3% of a CPU tagger step);
    # stopping the bar waits for its sleep to end (every epoch)
    assert bar.refresh_rate == 10
