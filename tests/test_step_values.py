"""Training values are logged only on the steps whose values are read, and the loggers get exactly what they
got when every step logged."""

from __future__ import annotations

import csv

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger
from torch import nn

from models.step_values import StepValues


class Tiny(pl.LightningModule):
    def __init__(self, gated: bool):
        super().__init__()
        self.net = nn.Linear(3, 1)
        self.gated = gated
        self.step_values = StepValues(every_s=3600.0)  # no progress-bar refresh inside the test
        self.logged_at: list[int] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = ((self.net(x) - y) ** 2).mean()
        if not self.gated or self.step_values.read(self.trainer):
            self.logged_at.append(self.trainer.global_step)
            self.log("train/loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def _fit(tmp_path, gated: bool, every: int, steps: int, accumulate: int) -> tuple[list[dict], Tiny]:
    torch.manual_seed(0)
    x, y = torch.randn(40, 3), torch.randn(40, 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=2)
    module = Tiny(gated)
    logger = CSVLogger(tmp_path / str(gated), name="", version="")
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=steps, max_epochs=-1, logger=logger, log_every_n_steps=every,
        accumulate_grad_batches=accumulate, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, loader)
    path = tmp_path / str(gated) / "metrics.csv"
    if not path.exists():  # nothing reached the logger (fewer steps than log_every_n_steps)
        return [], module
    with open(path) as f:
        return list(csv.DictReader(f)), module


@pytest.mark.parametrize(("every", "steps", "accumulate"), [(4, 13, 1), (1, 5, 1), (3, 11, 2), (50, 30, 1)])
def test_loggers_get_the_same_rows_as_when_every_step_logs(tmp_path, every, steps, accumulate):
    every_step, _ = _fit(tmp_path, False, every, steps, accumulate)
    gated, module = _fit(tmp_path, True, every, steps, accumulate)
    assert gated == every_step
    assert len(gated) == steps // every
    # and only those steps (every micro-batch of an accumulated optimizer step) and the first (for the bar)
    # called self.log
    assert sorted(set(module.logged_at)) == sorted({0} | {s for s in range(steps) if (s + 1) % every == 0})


def test_the_progress_bar_gets_a_value_at_most_every_interval():
    values = StepValues(every_s=0.0)
    trainer = type("T", (), {"log_every_n_steps": 50, "global_step": 6, "should_stop": False})()
    assert values.read(trainer) and values.read(trainer)  # interval 0: every step is shown
    values = StepValues(every_s=3600.0)
    assert values.read(trainer)  # the first step is shown at once
    assert not values.read(trainer)
    trainer.should_stop = True  # a stopping run's last values reach the loggers
    assert values.read(trainer)
