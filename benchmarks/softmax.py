"""Row: the adaptive softmax against the full softmax at a 100k-word vocabulary (Grave et al. 2017).

The corpus is generated: token ids drawn from a Zipf law over the vocabulary (p(rank r) ~ 1/(r+1)),
the shape of word frequencies in text, with ids in frequency order as the word tokenizer assigns them.
Its entropy is known, so the perplexity floor is printed beside the two models'. Both models are the
same LSTM (untied, so that only the output layer differs), start from the same seed, see the same
windows and use the same optimizer (Adam); each training step is the LightningModule's own loss (features +
exact token NLL), backward and the optimizer step. Perplexity is exact for both: the adaptive softmax's
log-probability of every held-out token.

A second row puts adaptive input embeddings (tied to the adaptive softmax's clusters) beside the adaptive
softmax with its own embedding matrix: speed, perplexity and the number of weights.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from benchmarks.harness import Row
from models.lm_lit_module import LMLitModule
from models.lstm_lm import LMConfig
from models.optim import OptimConfig

BATCH, BPTT = 20, 35
"""The recipes' streams and window."""
TEST_WINDOWS = 10


def zipf_stream(vocab: int, tokens: int, seed: int) -> tuple[np.ndarray, float]:
    """(tokens,) int64 ids drawn from p(r) ~ 1/(r+1) over `vocab` ids, and that law's perplexity exp(H)."""
    p = 1.0 / np.arange(1, vocab + 1, dtype=np.float64)
    p /= p.sum()
    ids = np.random.default_rng(seed).choice(vocab, size=tokens, p=p)
    return ids, math.exp(-(p * np.log(p)).sum())


def windows(ids: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The classic LM batches: BATCH contiguous streams, read BPTT tokens at a time (inputs, targets)."""
    n = len(ids) // BATCH
    data = torch.from_numpy(ids[: n * BATCH].reshape(BATCH, n))
    return [(data[:, i : i + BPTT], data[:, i + 1 : i + 1 + BPTT]) for i in range(0, n - BPTT - 1, BPTT)]


MODELS = ("full", "adaptive", "adaptive_input")
"""Output layer (and input) of each compared model: full softmax; adaptive softmax; both adaptive and tied."""


def _module(which: str, vocab: int, size: int) -> LMLitModule:
    torch.manual_seed(0)
    cfg = LMConfig(embedding_size=size, hidden_size=size, num_layers=1, dropout=0.0, embedding_dropout=0.0,
                   layer_dropout=0.0, tie_weights=False, softmax="full" if which == "full" else "adaptive",
                   adaptive_input=which == "adaptive_input")  # fmt: skip
    # Adam: in a few dozen steps SGD (lr 20, clipping 0.25, as the recipes) barely moves a 100k-word output layer.
    return LMLitModule(cfg, OptimConfig(name="adam", lr=0.002), vocab)


def train(which: str, vocab: int, size: int, batches: list, warmup: int) -> tuple[float, LMLitModule]:
    """Tokens/s over batches[warmup:] (training steps of the module's own loss), and the trained module."""
    module = _module(which, vocab, size).train()
    opt = module.configure_optimizers()["optimizer"]
    hidden, started = None, 0.0
    for k, (x, y) in enumerate(batches):
        if k == warmup:
            started = time.perf_counter()
        feats, hidden = module.model.features(x, hidden)
        hidden = (hidden[0].detach(), hidden[1].detach())
        loss = module.model.token_nll(feats, y).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (len(batches) - warmup) * BATCH * BPTT / (time.perf_counter() - started), module


@torch.no_grad()
def perplexity(module: LMLitModule, batches: list) -> float:
    """exp(mean exact NLL) over every token of `batches`, as `evaluate` computes it."""
    module.eval()
    hidden, nll, count = None, 0.0, 0
    for x, y in batches:
        feats, hidden = module.model.features(x, hidden)
        nll += float(module.model.token_nll(feats, y).double().sum())
        count += y.numel()
    return math.exp(nll / count)


def rows(steps: int, warmup: int, repeats: int, vocab: int = 100_000, size: int = 256) -> list[Row]:
    """Tokens/s of the three (median of interleaved repeats) and their perplexity on held-out text after the
    same training tokens (the last repeat's models)."""
    ids, floor = zipf_stream(vocab, (warmup + steps) * BATCH * BPTT + BATCH * (BPTT + 2), seed=0)
    held_out, _ = zipf_stream(vocab, TEST_WINDOWS * BATCH * BPTT + BATCH * (BPTT + 2), seed=1)
    batches, test = windows(ids)[: warmup + steps], windows(held_out)
    speed: dict[str, list[float]] = {k: [] for k in MODELS}
    models: dict[str, LMLitModule] = {}
    for r in range(repeats):
        for which in MODELS if r % 2 == 0 else MODELS[::-1]:
            tps, models[which] = train(which, vocab, size, batches, warmup)
            speed[which].append(tps)
    ppl = {k: perplexity(m, test) for k, m in models.items()}
    weights = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    tokens = len(batches) * BATCH * BPTT
    same = f"{tokens:,} training tokens each, then {len(test) * BATCH * BPTT:,} held-out tokens"
    out = Row(
        "adaptive_vs_full_softmax_ratio",
        f"LM training step, adaptive vs full softmax ({vocab:,}-word Zipfian corpus, 1x{size} LSTM)", "tokens/s",
        "full softmax", speed["full"], speed["adaptive"], ">= 3",
        command=f"python -m benchmarks fast (generated corpus; {same}: ppl full {ppl['full']:,.0f}, adaptive "
        f"{ppl['adaptive']:,.0f}, the law's own {floor:,.0f})",
        extra={"softmax_full_ppl": ppl["full"], "softmax_adaptive_ppl": ppl["adaptive"], "softmax_zipf_ppl": floor},
    )  # fmt: skip
    out.met = out.ratio >= 3
    tied = Row(
        "adaptive_input_vs_adaptive_ratio",
        f"LM training step, adaptive input tied to the adaptive softmax vs an embedding matrix of its own (same "
        f"corpus and LSTM; weights {weights['adaptive_input']:,} vs {weights['adaptive']:,})", "tokens/s",
        "adaptive softmax, own embeddings", speed["adaptive"], speed["adaptive_input"], "reported",
        command=f"python -m benchmarks fast (generated corpus; {same}: ppl adaptive {ppl['adaptive']:,.0f}, "
        f"adaptive input {ppl['adaptive_input']:,.0f})",
        extra={"softmax_adaptive_input_ppl": ppl["adaptive_input"],
               "softmax_adaptive_weights": weights["adaptive"], "softmax_adaptive_input_weights": weights["adaptive_input"]},
    )  # fmt: skip
    return [out, tied]
