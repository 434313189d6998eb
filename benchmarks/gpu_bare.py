"""Bare CUDA training loops: the same model classes, batch shapes and precision as the pipeline's runs,
with nothing else (no Lightning, metrics, logging or checkpoints). Baselines of the GPU throughput rows.

Batches are built here from the corpus files, not through data_modules: the LM reads the same token
stream cut into the same 64 streams (word ids from a plain count with the recipe's min_frequency, so
the vocabulary size matches the pipeline's to within its special tokens); the tagger gets bucketed
batches of the corpus' own sentences (lower-cased word ids, character ids, 17 BIOES tags).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.bare import batchify
from data_modules.tagging.vocab import NUM_CASE_CLASSES
from models.lstm_lm import LMConfig, LSTMLanguageModel
from models.optim import OptimConfig, build_optimizer
from models.tagger import BiLSTMTagger, TaggerConfig

AMP = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def lm_ids(folder: Path, min_frequency: int) -> tuple[np.ndarray, int]:
    """Training ids (N,) with <unk>=0 and an end-of-line id 1 after every line, and the vocabulary size."""
    lines = (folder / "train.txt").read_text().splitlines()
    counts = Counter(w for line in lines for w in line.split())
    vocab = {"<unk>": 0, "<eos>": 1}
    for word, n in counts.most_common():
        if n >= min_frequency:
            vocab.setdefault(word, len(vocab))
    ids = [i for line in lines if line.split() for i in (*(vocab.get(w, 0) for w in line.split()), 1)]
    return np.asarray(ids, dtype=np.int64), len(vocab)


def tagger_batches(folder: Path, batch_size: int, seed: int = 0) -> tuple[list[dict], dict[str, int]]:
    """Bucketed training batches (words, chars (B, L, C), case, tags, mask, CPU lengths) and vocab sizes."""
    sentences, current = [], []
    for line in (folder / "train.txt").read_text().splitlines():
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if current:
                sentences.append(current)
            current = []
        else:
            current.append((parts[0], parts[-1]))
    if current:
        sentences.append(current)
    words = {w: i + 2 for i, w in enumerate(sorted({w.lower() for s in sentences for w, _ in s}))}
    chars = {c: i + 2 for i, c in enumerate(sorted({c for s in sentences for w, _ in s for c in w}))}
    tags = {t: i for i, t in enumerate(sorted({t for s in sentences for _, t in s}))}
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    random.Random(seed).shuffle(chunks)
    batches = []
    for chunk in chunks:
        sents = [sentences[i] for i in chunk]
        b, length = len(sents), max(len(s) for s in sents)
        width = max(len(w) for s in sents for w, _ in s)
        out = {k: torch.zeros(b, length, dtype=torch.long) for k in ("words", "case", "tags")}
        out["chars"] = torch.zeros(b, length, width, dtype=torch.long)
        for r, s in enumerate(sents):
            for t, (w, tag) in enumerate(s):
                out["words"][r, t], out["tags"][r, t] = words[w.lower()], tags[tag]
                out["case"][r, t] = 2 if w[:1].isupper() else 1
                out["chars"][r, t, : len(w)] = torch.tensor([chars[c] for c in w])
        out["mask"] = out["words"] != 0
        out["lengths"] = out["mask"].sum(1)  # stays on the CPU: packing reads host lengths
        batches.append(out)
    return batches, {"words": len(words) + 2, "chars": len(chars) + 2}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_loop(model: nn.Module, batches, loss_fn, opt, steps: int, warmup: int, precision: str, clip: float,
               device: torch.device) -> dict:  # fmt: skip
    """Steps of `loss_fn(model, batch)` with autocast/GradScaler as Lightning's precision plugins use them.

    Returns seconds, tokens and sentences of the steps after `warmup`, peak memory, losses, scales.
    """
    dtype = AMP[precision]
    scaler = torch.amp.GradScaler(device.type) if precision == "16-mixed" else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    losses, scales, tokens, sentences, start = [], [], [], [], 0.0
    for k in range(warmup + steps):
        if k == warmup:
            _sync(device)
            start = time.perf_counter()
        batch = batches(k)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(model, batch)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
            scales.append(scaler._scale.detach().clone().reshape(()))
        else:
            opt.step()
        losses.append(loss.detach().float())
        if k >= warmup:
            tokens.append(batch["mask"].sum())
            sentences.append(batch["mask"][:, 0].sum())
    _sync(device)
    seconds = time.perf_counter() - start
    return {
        "steps": steps, "seconds": seconds, "tokens": int(torch.stack(tokens).sum()),
        "sentences": int(torch.stack(sentences).sum()), "data_wait_s": 0.0,
        "peak_memory_gb": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "losses": torch.stack(losses).cpu().tolist(), "scales": torch.stack(scales).cpu().tolist() if scales else [],
    }  # fmt: skip


def lm(folder: Path, recipe: dict, model_over: dict, batch: int, bptt: int, steps: int, warmup: int,
       precision: str, device: torch.device) -> dict:  # fmt: skip
    """The LM recipe's SGD + clipping, truncated BPTT with the hidden state carried across windows."""
    ids, vocab = lm_ids(folder, recipe["data"].get("min_frequency", 1))
    data = batchify(ids, batch).to(device)
    torch.manual_seed(0)
    model = LSTMLanguageModel(LMConfig(**{**recipe["model"], **model_over}), vocab).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=recipe["optim"]["lr"])
    span, state = max(data.size(1) - 1 - bptt, 1), {"hidden": model.init_hidden(batch, device)}

    def window(k: int) -> dict:
        lo = (k * bptt) % span
        x = data[:, lo : lo + bptt]
        return {"x": x, "y": data[:, lo + 1 : lo + 1 + bptt], "mask": torch.ones_like(x, dtype=torch.bool)}

    def loss_fn(m: nn.Module, b: dict) -> torch.Tensor:
        hidden = tuple(h.detach() for h in state["hidden"])
        logits, state["hidden"] = m(b["x"], hidden)
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), b["y"].reshape(-1))

    clip = recipe["trainer"].get("gradient_clip_val") or 1e9
    return train_loop(model, window, loss_fn, opt, steps, warmup, precision, clip, device)


def tagger(folder: Path, recipe: dict, steps: int, warmup: int, precision: str, device: torch.device) -> dict:
    """The tagger recipe's Adam + clipping over bucketed batches, copied to the device with non_blocking."""
    batches, sizes = tagger_batches(folder, recipe["data"]["batch_size"])
    pinned = [{k: v if k == "lengths" else (v.pin_memory() if device.type == "cuda" else v) for k, v in b.items()}
              for b in batches]  # fmt: skip
    torch.manual_seed(0)
    # Word ids start at 2 as in the pipeline's vocabulary: 0 padding, 1 <unk> (what word dropout substitutes).
    model = BiLSTMTagger(
        TaggerConfig(**recipe["model"]), sizes["words"], sizes["chars"], 17,
        unk_id=1, num_case_classes=NUM_CASE_CLASSES,
    ).to(device)  # fmt: skip
    opt = build_optimizer(
        model.parameters(), OptimConfig(name="adam", lr=recipe["optim"]["lr"]), fused="mixed" not in precision
    )  # as ours

    def fetch(k: int) -> dict:
        b = pinned[k % len(pinned)]
        return {key: v if key == "lengths" else v.to(device, non_blocking=True) for key, v in b.items()}

    clip = recipe["trainer"].get("gradient_clip_val") or 1e9
    return train_loop(model, fetch, lambda m, b: m.loss(b), opt, steps, warmup, precision, clip, device)
