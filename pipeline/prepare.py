"""`python -m pipeline prepare --config ...`: download and tokenize once (e.g. on a login node).

Compute nodes then start with HF_HUB_OFFLINE=1 and find everything in the cache.
"""

from __future__ import annotations

from pipeline import config as configs
from pipeline.tasks import TASKS
from pipeline.trainer import prepare


def main(args: list[str]) -> None:
    task = TASKS[configs.peek_task(args)]
    parser = configs.train_parser(task)
    cfg = parser.instantiate_classes(configs.parse(parser, args))
    dm = task.data_module(cfg.data)
    prepare(dm)
    print(
        f"Prepared {task.name} data in {cfg.data.cache_dir}: "
        + ", ".join(f"{k}={v}" for k, v in summary(dm).items())
    )


def summary(dm) -> dict:
    if hasattr(dm, "num_tokens"):
        return {f"{s} tokens": dm.num_tokens(s) for s in ("train", "validation", "test")}
    return dm.model_kwargs() and {k: v for k, v in dm.model_kwargs().items() if k.endswith("size")}
