"""`python -m benchmarks.peers_probe OUT.json train ARGS...`: exactly `python -m pipeline train ARGS...`, plus one
Lightning callback that writes, after every validation, the seconds since the process started, the epoch, the
dev F1 and the seconds each epoch's training took (validation excluded) to OUT.json: the learning curve
`python -m benchmarks peers` sets beside flair's. Added by wrapping `pytorch_lightning.Trainer.__init__`, as
`benchmarks.gpu_probe` does (`benchmarks.with_callback`).
"""

from __future__ import annotations

import time

START = time.perf_counter()  # before the imports: they count for ours as flair's count for flair

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytorch_lightning as pl  # noqa: E402

from benchmarks.with_callback import run_pipeline  # noqa: E402


class Curve(pl.Callback):
    def __init__(self, out: Path):
        self.out, self.points, self.epochs, self.began = out, [], [], None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.began = time.perf_counter()

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.began is not None and not trainer.sanity_checking:
            self.epochs.append(time.perf_counter() - self.began)
            self.began = None

    def on_validation_end(self, trainer, pl_module) -> None:
        f1 = trainer.callback_metrics.get("val/f1")
        if trainer.sanity_checking or f1 is None:
            return
        self.points.append({"seconds": time.perf_counter() - START, "epoch": trainer.current_epoch + 1,
                            "dev_f1": float(f1)})  # fmt: skip
        self.out.write_text(json.dumps({"points": self.points, "epoch_seconds": self.epochs}))


def main(argv: list[str]) -> None:
    out, args = Path(argv[0]), argv[1:]
    run_pipeline(Curve(out), args)


if __name__ == "__main__":
    main(sys.argv[1:])
