"""`python -m pipeline ARGS` run in this process with one more Lightning callback: the benchmarks' probes.

The callback is added by wrapping `pytorch_lightning.Trainer.__init__`, Lightning's public class, so a probe
needs nothing of the pipeline's internals and survives their reorganisation.
"""

from __future__ import annotations

import functools
import runpy
import sys

import pytorch_lightning as pl


def run_pipeline(callback: pl.Callback, args: list[str]) -> None:
    original = pl.Trainer.__init__

    @functools.wraps(original)  # the CLI reads Trainer's signature for its --trainer.* keys
    def init(self, *a, **kw):
        kw["callbacks"] = [*(kw.get("callbacks") or []), callback]
        original(self, *a, **kw)

    pl.Trainer.__init__ = init
    sys.argv = ["python -m pipeline", *args]
    runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
