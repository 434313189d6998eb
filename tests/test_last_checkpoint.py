"""last.ckpt is the newest validation's state even when the monitored metric stopped improving; best.ckpt is the
best one. The callbacks are the ones `train` uses (`pipeline.trainer.checkpoint_callbacks`)."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from pipeline.trainer import checkpoint_callbacks


class Worsening(pl.LightningModule):
    """A regression whose logged `val/loss` grows at every validation: only the first one is the best."""

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(3, 1)
        self.validations = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        return ((self.net(x) - y) ** 2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", float(self.validations))

    def on_validation_epoch_end(self):
        self.validations += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(dirpath, every_n_steps: int | None) -> pl.Trainer:
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(40, 3), torch.randn(40, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=2)  # 20 steps an epoch
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=20, max_epochs=-1, logger=False, val_check_interval=4, limit_val_batches=1,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        callbacks=checkpoint_callbacks(dirpath, "val/loss", "min", every_n_steps, None, keep=1),
    )  # fmt: skip
    trainer.fit(Worsening(), loader, loader)
    return trainer


def step_of(path) -> int:
    return torch.load(path, map_location="cpu", weights_only=False)["global_step"]


@pytest.mark.parametrize("every_n_steps", [None, 3])
def test_last_checkpoint_is_the_newest_validation_when_the_metric_got_worse(tmp_path, every_n_steps):
    trainer = fit(tmp_path, every_n_steps)
    assert trainer.global_step == 20
    assert step_of(tmp_path / "best.ckpt") == 4  # the first validation, the only improvement
    assert step_of(tmp_path / "last.ckpt") == 20  # the last validation (and the last step), not the best one
    files = sorted(p.name for p in tmp_path.iterdir())
    expected = ["best.ckpt", "last.ckpt"] + (["step-00000018.ckpt"] if every_n_steps else [])
    assert files == expected
