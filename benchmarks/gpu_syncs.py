"""`python -m benchmarks.gpu_syncs OUT.json WARMUP STEPS train ARGS...`: where a training step of ours makes the
host wait for the device, and where its CPU time goes.

On a GPU a step that reads a value back (`.item()`, `.cpu()`, a boolean mask, `nonzero`) stops the host until
every kernel queued before it has run, so the host can no longer queue the next step while the device works: a
bare loop without such reads hides its Python time, ours would not. After WARMUP steps, for STEPS steps:

- on CUDA, torch's sync debug mode (`torch.cuda.set_sync_debug_mode`) warns at every synchronising call, and
  each warning's Python stack is recorded;
- on the CPU (the rehearsal and the tests), a dispatch mode records the operators that would synchronise on a
  GPU (`_local_scalar_dense` behind `.item()`/`float()`/`bool()`, `nonzero`, boolean indexing ...) and calls of
  `.cpu()`/`.tolist()`/`.numpy()`, with their Python stack. It over-counts: it also sees reads of CPU tensors
  (Adam's step counters), which a GPU run does not wait for;
- torch's profiler over the same steps gives the operators and CUDA runtime calls by self CPU time.

Written: sync sites with counts per step (innermost frames outside torch first), milliseconds per step, the
runtime calls that wait (`cuda*Synchronize`, `cudaMemcpy*`, `cudaHostAlloc`) per step, the profile's top rows.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.with_callback import run_pipeline

READS = {"_local_scalar_dense", "nonzero", "masked_select", "unique", "_unique2", "unique_consecutive",
         "repeat_interleave", "equal", "is_nonzero"}  # fmt: skip
"""Operators whose result depends on tensor values the host must see (they synchronise on CUDA)."""
WAITS = ("Synchronize", "cudaMemcpy", "cudaHostAlloc", "cudaFreeHost")


TORCH = str(Path(torch.__file__).parent) + os.sep
"""torch's own frames are left out of the sites; a match on "/torch/" would drop a whole environment that lives
under a folder of that name (the GPU image's /opt/torch/.venv: the first sync report named no frame inside
Lightning)."""


def site(skip: int = 2, depth: int = 6) -> str:
    """The innermost `depth` Python frames outside torch, `warnings` and this file, innermost first."""
    frames = [
        f
        for f in traceback.extract_stack()[:-skip]
        if not f.filename.startswith(TORCH) and f.filename not in (__file__, warnings.__file__)
    ]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[-depth:][::-1])


class _Reads(TorchDispatchMode):
    def __init__(self, hits: collections.Counter):
        super().__init__()
        self.hits = hits

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in READS or (
            name == "index" and any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] if i is not None)
        ):  # fmt: skip
            self.hits[f"{name}: {site(3)}"] += 1
        return func(*args, **(kwargs or {}))


class SyncFinder(pl.Callback):
    """Records sync sites and a profile over steps warmup+1 .. warmup+steps (see the module docstring)."""

    def __init__(self, out: Path, warmup: int, steps: int):
        self.out, self.warmup, self.steps = out, warmup, steps
        self.seen, self.hits, self.on, self.started = 0, collections.Counter(), False, 0.0
        self.undo: list = []

    def _start(self, cuda: bool) -> None:
        self.on, self.started = True, time.perf_counter()
        if cuda:
            shown = warnings.showwarning

            def record(message, category, *a, **k):
                if "synchronizing" in str(message):
                    self.hits[f"sync: {site(2)}"] += 1
                else:
                    shown(message, category, *a, **k)

            warnings.showwarning = record
            self._filters = warnings.catch_warnings()
            self._filters.__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            self.undo = [lambda: torch.cuda.set_sync_debug_mode(0), lambda: self._filters.__exit__(None, None, None),
                         lambda: setattr(warnings, "showwarning", shown)]  # fmt: skip
        else:
            mode = _Reads(self.hits)
            mode.__enter__()
            self.undo = [lambda: mode.__exit__(None, None, None)]
            for name in ("cpu", "tolist", "numpy"):
                original = getattr(torch.Tensor, name)

                def wrapped(t, *a, _original=original, _name=name, **k):
                    self.hits[f".{_name}(): {site(2)}"] += 1
                    return _original(t, *a, **k)

                setattr(torch.Tensor, name, wrapped)
                self.undo.append(lambda n=name, o=original: setattr(torch.Tensor, n, o))
        acts = [torch.profiler.ProfilerActivity.CPU] + (
            [torch.profiler.ProfilerActivity.CUDA] if cuda else []
        )
        self.profile = torch.profiler.profile(activities=acts)
        self.profile.__enter__()

    def _stop(self, cuda: bool) -> None:
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - self.started
        for undo in reversed(self.undo):
            undo()
        self.profile.__exit__(None, None, None)
        self.on = False
        n = self.seen - self.warmup
        events = self.profile.key_averages()
        waits = {e.key: round(e.count / n, 2) for e in events if any(w in e.key for w in WAITS)}
        report = {
            "device": "cuda" if cuda else "cpu",
            "steps": n,
            "ms_per_step": 1000 * seconds / n,
            "syncs_per_step": {k: round(v / n, 2) for k, v in self.hits.most_common()},
            "runtime_waits_per_step": waits,
            "profile": events.table(sort_by="self_cpu_time_total", row_limit=25),
        }
        self.out.write_text(json.dumps(report, indent=1))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seen += 1
        cuda = pl_module.device.type == "cuda"
        if self.seen == self.warmup:
            if cuda:
                torch.cuda.synchronize()
            self._start(cuda)
        elif self.on and self.seen == self.warmup + self.steps:
            self._stop(cuda)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.on:  # the run ended before STEPS steps: report those it made
            self._stop(pl_module.device.type == "cuda")


def main(argv: list[str]) -> None:
    out, warmup, steps, args = Path(argv[0]), int(argv[1]), int(argv[2]), argv[3:]
    run_pipeline(SyncFinder(out, warmup, steps), args)


if __name__ == "__main__":
    main(sys.argv[1:])
