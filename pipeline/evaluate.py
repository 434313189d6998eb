"""`python -m pipeline evaluate CKPT`: metrics of a checkpoint on a split, from the checkpoint alone.

Model, vocabularies and data settings come from the checkpoint; `--data.*` overrides the data
(another copy of the corpus, another split file), `--trainer.*` the hardware.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytorch_lightning as pl
from jsonargparse import ArgumentParser, Namespace

from pipeline import checkpoint, report
from pipeline import config as configs
from pipeline.errors import PipelineError
from pipeline.tasks import TASKS, Task
from pipeline.trainer import build_trainer, prepare

SPLIT_STAGE = {"validation": "val", "test": "test"}


def restore(args: list[str], prog: str, extra) -> tuple[Task, Namespace, dict, Namespace]:
    """Checkpoint + command line -> (task, this command's args, checkpoint, resolved training config).

    `extra(parser)` adds the command's own arguments. `--data.*` defaults are the checkpoint's,
    `--trainer.*` defaults are one device with the training precision.
    """
    if not args or args[0].startswith("-"):
        raise PipelineError(f"Usage: {prog} CHECKPOINT [options]; see {prog} --help.")
    ckpt = checkpoint.read(args[0])
    meta = ckpt["pipeline"]
    task = TASKS.get(meta.get("task"))
    if task is None:
        raise PipelineError(f"Checkpoint '{args[0]}' is for an unknown task '{meta.get('task')}'.")
    saved = configs.train_parser(task).parse_string(meta["config"])
    p = ArgumentParser(prog=prog, exit_on_error=False, allow_abbrev=False)
    p.add_argument("checkpoint", type=str, help="A .ckpt written by `train`.")
    p.add_argument("--verbose", type=bool, default=False, help="Show tracebacks for errors.")
    extra(p)
    p.add_class_arguments(task.data_config, "data")
    p.add_class_arguments(pl.Trainer, "trainer", skip=configs.TRAINER_SKIP)
    p.set_defaults({f"data.{k}": v for k, v in saved.data.items()})
    p.set_defaults({"trainer.precision": saved.trainer.precision, "trainer.devices": 1})
    cfg = configs.parse(p, args)
    return task, cfg, ckpt, saved


def build(task: Task, cfg: Namespace, ckpt: dict, saved: Namespace, before_prepare=None):
    """Data module (with the checkpoint's vocabularies) and the module with the checkpoint's weights.

    `before_prepare(dm)` runs once the vocabularies are loaded (predict hands over its sentences there).
    """
    data_cfg = task.data_config(**cfg.data.as_dict())
    dm = task.data_module(data_cfg)
    dm.load_artifacts(ckpt["pipeline"]["artifacts"])
    if before_prepare is not None:
        before_prepare(dm)
    prepare(dm)
    objs = configs.train_parser(task).instantiate_classes(saved)
    module = task.module(model=objs.model, optim=objs.optim, **dm.model_kwargs())
    missing, unexpected = module.load_state_dict(ckpt["state_dict"], strict=False)
    if missing or unexpected:
        raise PipelineError(
            f"Checkpoint '{cfg.checkpoint}' does not fit its own model: missing {missing[:5]}, unexpected {unexpected[:5]}."
        )
    return dm, module


def main(args: list[str]) -> dict:
    def extra(p: ArgumentParser) -> None:
        p.add_argument("--split", type=Literal["validation", "test"], default="test", help="Split to score.")
        p.add_argument("--output", type=str | None, default=None, help="Write the metrics as JSON here.")

    task, cfg, ckpt, saved = restore(args, "python -m pipeline evaluate", extra)
    dm, module = build(task, cfg, ckpt, saved)
    trainer = build_trainer(cfg.trainer.as_dict())
    if cfg.split == "test":
        trainer.test(module, datamodule=dm, verbose=False)
    else:
        trainer.validate(module, datamodule=dm, verbose=False)
    result = report.nest(module.last_result.get(SPLIT_STAGE[cfg.split], {}))
    out = {"split": cfg.split, "checkpoint": cfg.checkpoint, **result}
    if trainer.is_global_zero:
        report.print_result(cfg.split, result, task)
        if cfg.output:
            checkpoint.write_text_atomic(Path(cfg.output), json.dumps(out, indent=2, sort_keys=True) + "\n")
    return out
