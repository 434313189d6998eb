"""`python -m benchmarks.gpu_probe OUT.json train ARGS...`: exactly `python -m pipeline train ARGS...`, plus
one Lightning callback that writes what the GPU check measures to OUT.json.

The callback is added by wrapping `pytorch_lightning.Trainer.__init__`, Lightning's public class, so the
check needs nothing of the pipeline's internals and survives their reorganisation. It adds no
synchronisation inside the timed steps: token counts and losses stay on the device until the end.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from benchmarks.with_callback import run_pipeline


class Probe(pl.Callback):
    """Steps after `warmup`: seconds, real tokens and sentences, time between batches (data wait),
    peak GPU memory, the training losses and, with 16-mixed, the gradient scaler's scale after every step
    (warm-up included, so the steps it skipped early are counted).

    The clock stops at the end of the last training step (`trainer.max_steps`), not at `on_train_end`:
    what follows it (the final validation, the step-N and last.ckpt files) is end-of-run cost, reported
    apart as `after_last_step_s`. The first GPU run timed it with the steps and reported ours at 0.29-0.45
    of the bare loop for the LMs, most of it writing 0.4 GB checkpoints inside a 1-second window."""

    def __init__(self, out: Path, warmup: int):
        self.out, self.warmup = out, warmup
        self.seen, self.start, self.last_end, self.wait, self.end = 0, 0.0, None, 0.0, None
        self.tokens, self.sentences, self.losses, self.scales = [], [], [], []

    def _sync(self, module: pl.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_start(self, trainer, pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # Lightning fetches and moves the batch between the previous step's end and this hook.
        if self.seen > self.warmup and self.last_end is not None:
            self.wait += time.perf_counter() - self.last_end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seen += 1
        if self.seen == self.warmup:
            self._sync(pl_module)
            self.start = time.perf_counter()
        elif self.seen > self.warmup:
            mask = batch["mask"]
            self.tokens.append(mask.sum())
            self.sentences.append(mask[:, 0].sum())
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        if scaler is not None and getattr(scaler, "_scale", None) is not None:
            self.scales.append(scaler._scale.detach().clone().reshape(()))
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(loss.detach().float().reshape(()))
        if self.seen == trainer.max_steps:
            self._sync(pl_module)
            self.end = time.perf_counter()
        self.last_end = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self._sync(pl_module)
        now = time.perf_counter()
        seconds = (self.end or now) - self.start
        if not trainer.is_global_zero or self.seen <= self.warmup:
            return
        cuda = pl_module.device.type == "cuda"
        report = {
            "steps": self.seen - self.warmup,
            "seconds": seconds,
            "tokens": int(torch.stack(self.tokens).sum()),
            "sentences": int(torch.stack(self.sentences).sum()),
            "data_wait_s": self.wait,
            "after_last_step_s": now - (self.end or now),
            "peak_memory_gb": torch.cuda.max_memory_allocated(pl_module.device) / 2**30 if cuda else None,
            "losses": torch.stack(self.losses).cpu().tolist(),
            "scales": torch.stack(self.scales).cpu().tolist() if self.scales else [],
        }
        self.out.write_text(json.dumps(report))


def main(argv: list[str]) -> None:
    out, args = Path(argv[0]), argv[1:]
    warmup = int(os.environ.get("PROBE_WARMUP", "3"))
    run_pipeline(Probe(out, warmup), args)


if __name__ == "__main__":
    main(sys.argv[1:])
