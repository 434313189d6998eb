"""The weight average updated every k optimizer steps with decay**k (warmed up early on), against a hand-written
reference."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from pipeline.config import TrainingConfig
from pipeline.trainer import weight_average


class Tiny(pl.LightningModule):
    """A linear regression that records its live weights after every optimizer step."""

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(3, 2)
        self.seen: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return ((self.net(x) - y) ** 2).mean()

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.seen.append(torch.cat([p.detach().flatten().clone() for p in self.net.parameters()]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def reference(weights: list[torch.Tensor], decay: float, every: int) -> torch.Tensor:
    """avg <- w after step 1, then avg <- d**k avg + (1 - d**k) w after steps t = 1 + k, 1 + 2k, ..., where
    d = min(decay, (1 + t) / (10 + t)) (TensorFlow's ExponentialMovingAverage with num_updates = t)."""
    avg = None
    for step, w in enumerate(weights, start=1):
        if (step - 1) % every == 0:
            d = min(decay, (1 + step) / (10 + step)) ** every
            avg = w.clone() if avg is None else d * avg + (1 - d) * w
    return avg


@pytest.mark.parametrize("every", [1, 4])
def test_every_k_average_equals_the_brute_force_reference(every):
    torch.manual_seed(0)
    x, y = torch.randn(23, 3), torch.randn(23, 2)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=2)
    module = Tiny()
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=23, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[weight_average(0.8, every)],
    )  # fmt: skip
    trainer.fit(module, loader)
    assert len(module.seen) == 23
    # At the end of fit Lightning copies the average into the module.
    final = torch.cat([p.detach().flatten() for p in module.net.parameters()])
    expected = reference(module.seen, 0.8, every)
    assert torch.allclose(final, expected, atol=1e-6)
    assert not torch.allclose(final, module.seen[-1], atol=1e-3)  # it is an average, not the last weights
    if every > 1:  # and not the every-step average: the steps in between were left out
        assert not torch.allclose(final, reference(module.seen, 0.8, 1), atol=1e-4)


def test_the_decay_warms_up_to_its_value_and_a_short_runs_average_is_not_the_first_weights():
    average = weight_average(0.999, 10)
    assert average.decay_at(1) == pytest.approx((2 / 11) ** 10)
    assert average.decay_at(100) == pytest.approx((101 / 110) ** 10)
    assert average.decay_at(8900) < 0.999**10 == average.decay_at(9000) == average.decay_at(10**6)
    # A short run: without the warmup the average of 23 steps at 0.999 would be ~98% the first weights.
    torch.manual_seed(0)
    x = torch.randn(46, 3)
    y = x @ torch.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 1.0]]) + 2.0
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=2)
    module = Tiny()
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=23, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[weight_average(0.999, 1)],
    )  # fmt: skip
    trainer.fit(module, loader)
    final = torch.cat([p.detach().flatten() for p in module.net.parameters()])
    first, last = module.seen[0], module.seen[-1]
    assert torch.allclose(final, reference(module.seen, 0.999, 1), atol=1e-6)
    assert (final - last).norm() < 0.5 * (final - first).norm()


def test_no_average_without_a_decay_and_the_default_period_is_documented():
    assert weight_average(0.0, 10) is None
    assert TrainingConfig().ema_every_n_steps == 10
    assert weight_average(0.999, 10).update_every_n_steps == 10


def test_checkpoints_of_lightnings_ema_callback_resume_into_ours():
    """Runs checkpointed with Lightning's EMAWeightAveraging keep their callback state under its key."""
    from pytorch_lightning.callbacks import EMAWeightAveraging

    assert weight_average(0.9, 3).state_key == EMAWeightAveraging(decay=0.9).state_key
    ours = weight_average(0.9, 3)
    ours.load_state_dict(EMAWeightAveraging(decay=0.9).state_dict() | {"latest_update_step": 7})
    assert ours.state_dict() == {"latest_update_step": 7}


class NoRead(torch.Tensor):
    """A count whose value the host must not read (on a GPU, each read waits for every queued kernel)."""

    def __bool__(self):
        raise AssertionError("the average's count was read on the host")

    def item(self):
        raise AssertionError("the average's count was read on the host")


def test_update_equals_torchs_averaged_model_and_reads_the_count_once():
    from torch.optim.swa_utils import AveragedModel

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))  # float weights and an int64 buffer
    from torch.optim.swa_utils import get_ema_multi_avg_fn

    average = weight_average(0.9, 1)
    average._average_model = AveragedModel(model, use_buffers=True)
    oracle = AveragedModel(model, use_buffers=True, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    for k in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model(torch.randn(8, 4))  # moves the running statistics and num_batches_tracked
        average.update(model, step=10**6)  # past the warmup: the decay is 0.9
        oracle.update_parameters(model)
        if k == 0:  # read once, at the first update: later ones must not
            average._average_model.n_averaged = average._average_model.n_averaged.as_subclass(NoRead)
        mine, theirs = average._average_model.state_dict(), oracle.state_dict()
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert torch.equal(mine[key].as_subclass(torch.Tensor), theirs[key]), (k, key)


def test_a_loaded_average_continues_instead_of_copying_again():
    from torch.optim.swa_utils import AveragedModel

    model = nn.Linear(3, 1)
    average = weight_average(0.5, 1)
    average._average_model = AveragedModel(model, use_buffers=True)
    with torch.no_grad():
        average._average_model.module.weight.fill_(2.0)
        model.weight.fill_(0.0)
    average._average_model.n_averaged.fill_(3)  # as a checkpoint's averaging_state leaves it
    average.update(model, step=10**6)
    assert torch.allclose(average._average_model.module.weight, torch.full((1, 3), 1.0))
    assert int(average._average_model.n_averaged) == 4
