"""Precision settings that depend on the hardware: bf16 falls back where the hardware lacks it."""

from __future__ import annotations

import torch

from pipeline.trainer import resolve_precision


def test_bf16_becomes_16_mixed_on_a_gpu_without_bf16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla V100")
    assert resolve_precision({"precision": "bf16-mixed", "accelerator": "gpu"})["precision"] == "16-mixed"
    assert resolve_precision({"precision": "bf16-true", "accelerator": "auto"})["precision"] == "16-true"
    assert resolve_precision({"precision": "32-true", "accelerator": "gpu"})["precision"] == "32-true"
    assert resolve_precision({"precision": "bf16-mixed", "accelerator": "cpu"})["precision"] == "bf16-mixed"


def test_bf16_stays_where_the_gpu_has_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert resolve_precision({"precision": "bf16-mixed", "accelerator": "gpu"})["precision"] == "bf16-mixed"
