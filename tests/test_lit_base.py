"""The per-step shortcuts of `PipelineModule` and `QuietProfiler` change nothing that Lightning or torch would see."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.profilers import SimpleProfiler
from torch import nn

from models.lit_base import PipelineModule
from pipeline.trainer import QuietProfiler, build_trainer


class Tiny(PipelineModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)


def test_the_hook_name_is_a_plain_attribute_and_modules_still_register():
    m = Tiny()
    for value in ("training_step", None):
        m._current_fx_name = value
        assert m._current_fx_name == value and "_current_fx_name" in vars(m)
    m.extra = nn.Linear(3, 1)  # every other attribute goes through nn.Module as before
    m.scale = nn.Parameter(torch.ones(()))
    assert "extra" in m._modules and "scale" in m._parameters
    assert {n for n, _ in m.named_parameters()} == {
        "layer.weight",
        "layer.bias",
        "extra.weight",
        "extra.bias",
        "scale",
    }


def test_a_batch_for_the_cpu_is_handed_over_as_it_is():
    batch = {"x": torch.arange(4), "mask": torch.ones(2, 2, dtype=torch.bool)}
    out = Tiny().transfer_batch_to_device(batch, torch.device("cpu"), 0)
    assert out is batch
    # What Lightning's own move gives on the CPU: the same tensors.
    moved = pl.LightningModule.transfer_batch_to_device(Tiny(), batch, torch.device("cpu"), 0)
    assert all(moved[k] is batch[k] or torch.equal(moved[k], batch[k]) for k in batch)


def test_the_trainer_profiles_nothing_unless_asked():
    quiet = build_trainer({"accelerator": "cpu", "devices": 1}).profiler
    assert isinstance(quiet, QuietProfiler)
    assert quiet.profile("[Callback]x.on_train_batch_end") is quiet.profile("run_training_batch")
    with quiet.profile("anything"):
        pass
    asked = build_trainer({"accelerator": "cpu", "devices": 1, "profiler": "simple"}).profiler
    assert isinstance(asked, SimpleProfiler)
