"""The DDP half of row 5: LM training tokens/s (all ranks) with 2 CPU processes against 1.

Each measurement is a fresh `python -m benchmarks ddp-worker` process (Lightning's DDP launcher starts
the other ranks by re-running that command); the cores are shared out, so N processes x T threads
never exceeds the machine.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from benchmarks import recipes, speed
from benchmarks.harness import Row


def worker(
    devices: int, steps: int, warmup: int, data_root: Path, cache: Path, out: Path, threads: int
) -> None:
    torch.set_num_threads(max(1, threads // devices))
    parts = recipes.lm_module(data_root, cache)
    clock, _ = speed.ours_lm(parts, steps, warmup, out.parent / f"ddp-{devices}", strategy="ddp" if devices > 1 else "auto",
                             devices=devices)  # fmt: skip
    if int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))) == 0:
        out.write_text(json.dumps({"tokens_per_s": clock.tokens * devices / clock.seconds}))


def rows(
    data_root: Path, cache: Path, steps: int, warmup: int, repeats: int, threads: int, work: Path
) -> list[Row]:
    import subprocess

    recipes.lm_module(data_root, cache)  # the cache exists before any rank looks for it
    rates: dict[int, list[float]] = {1: [], 2: []}
    for r in range(repeats):
        for devices in (1, 2) if r % 2 == 0 else (2, 1):
            out = work / f"ddp-{devices}-{r}-{time.monotonic_ns()}.json"
            cmd = [sys.executable, "-m", "benchmarks", "ddp-worker", "--devices", str(devices), "--steps", str(steps),
                   "--warmup", str(warmup), "--data", str(data_root), "--cache", str(cache), "--out", str(out),
                   "--threads", str(threads)]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0 or not out.is_file():
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
            rates[devices].append(json.loads(out.read_text())["tokens_per_s"])
    return [Row("ddp2_vs_1_cpu_ratio", f"LM training, 2 DDP processes ({max(1, threads // 2)} threads each) vs 1 "
                f"({threads} threads), tokens/s of all ranks", "tokens/s", "1 process", rates[1], rates[2], "reported",
                command="python -m benchmarks fast (python -m benchmarks ddp-worker --devices 1|2)")]  # fmt: skip
