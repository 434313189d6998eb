"""Hand-written PyTorch training loops, in the style of pytorch/examples word_language_model.

They train the same model classes on the same batches as the pipeline, with nothing else: no Lightning,
no metrics, no logging, no progress bar. They are the baselines of the training-overhead rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.lstm_lm import LSTMLanguageModel
from models.optim import OptimConfig, build_optimizer


def batchify(ids: np.ndarray, batch_size: int) -> torch.Tensor:
    """(B, L + 1) int64: row s is stream s exactly as data_modules.lm.windows.train_windows cuts it."""
    length = (len(ids) - 1) // batch_size
    rows = [
        torch.from_numpy(np.asarray(ids[s * length : (s + 1) * length + 1], dtype=np.int64))
        for s in range(batch_size)
    ]
    return torch.stack(rows)


def lm_loop(
    model: LSTMLanguageModel,
    data: torch.Tensor,
    bptt: int,
    steps: int,
    warmup: int,
    lr: float,
    clip: float,
    backward: bool = True,
) -> tuple[int, float]:
    """Truncated BPTT over windows of `data` (B, L + 1): (tokens, seconds) of the steps after `warmup`.

    With backward=False only the training forward pass and loss run (train mode, autograd recording).
    """
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    hidden = model.init_hidden(data.size(0))
    span = max(data.size(1) - 1 - bptt, 1)  # a tiny corpus wraps around, like an epoch restarting
    tokens, start = 0, time.perf_counter()
    for k in range(warmup + steps):
        if k == warmup:
            tokens, start = 0, time.perf_counter()
        lo = (k * bptt) % span
        x, y = data[:, lo : lo + bptt], data[:, lo + 1 : lo + 1 + bptt]
        hidden = (hidden[0].detach(), hidden[1].detach())
        opt.zero_grad(set_to_none=True)
        logits, hidden = model(x, hidden)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        if backward:
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
        tokens += x.numel()
    return tokens, time.perf_counter() - start


def tagger_loop(
    model: nn.Module, batches: Sequence[dict], steps: int, warmup: int, lr: float, clip: float
) -> tuple[int, float]:
    """Adam steps of `model.loss` over prebuilt `batches`: (real tokens, seconds) after `warmup`."""
    model.train()
    opt = build_optimizer(model.parameters(), OptimConfig(name="adam", lr=lr))  # ours' optimizer, fused
    tokens, start = 0, time.perf_counter()
    for k in range(warmup + steps):
        if k == warmup:
            tokens, start = 0, time.perf_counter()
        batch = batches[k % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = model.loss(batch)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        tokens += int(batch["mask"].sum())
    return tokens, time.perf_counter() - start
