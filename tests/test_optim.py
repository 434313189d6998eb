"""models/optim.py: Adam and AdamW fused into one kernel, against torch's per-tensor loop (the oracle)."""

from __future__ import annotations

import pytest
import torch

from models.optim import OptimConfig, build_optimizer


def _params(seed: int) -> list[torch.nn.Parameter]:
    torch.manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s)) for s in [(50, 8), (8,), (3, 4, 5)]]


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_adam_updates_as_the_per_tensor_loop(name):
    cfg = OptimConfig(name=name, lr=0.01, weight_decay=0.01)
    ours, oracle = _params(0), _params(0)
    opt = build_optimizer(ours, cfg)
    kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    ref = kind(oracle, lr=0.01, weight_decay=0.01, foreach=False)
    assert opt.defaults["fused"] and isinstance(opt, kind)
    for step in range(20):
        torch.manual_seed(100 + step)
        grads = [torch.randn_like(p) for p in ours]
        for p, q, g in zip(ours, oracle, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        ref.step()
    for p, q in zip(ours, oracle, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_sgd_and_parameters_without_a_fused_kernel():
    assert isinstance(build_optimizer(_params(0), OptimConfig(name="sgd", lr=0.1)), torch.optim.SGD)
    ints = [torch.nn.Parameter(torch.zeros(3, dtype=torch.long), requires_grad=False)]
    assert not build_optimizer([*_params(0), *ints], OptimConfig(name="adam", lr=0.1)).defaults["fused"]
    # mixed precision (Lightning refuses fused + clipping) and multi-process runs: multi-tensor instead
    mixed = build_optimizer(_params(0), OptimConfig(name="adam", lr=0.1), fused=False)
    assert mixed.defaults["foreach"] and not mixed.defaults["fused"]
