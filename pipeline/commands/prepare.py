"""`python -m pipeline prepare --config ...`: download and tokenize once (e.g. on a login node).

Compute nodes then start with HF_HUB_OFFLINE=1 and find everything in the cache.
"""

from __future__ import annotations

from pipeline import config as configs
from pipeline.tasks import TASKS
from pipeline.trainer import prepare_and_setup


def main(args: list[str]) -> None:
    task = TASKS[configs.peek_task(args)]
    parser = configs.train_parser(task)
    cfg = configs.instantiate(parser, configs.parse(parser, args))
    dm = task.data_module(cfg.data)
    prepare_and_setup(dm)
    print(
        f"Prepared {task.name} data in {cfg.data.cache_dir}: "
        + ", ".join(f"{k}={v}" for k, v in dm.summary().items())
    )
