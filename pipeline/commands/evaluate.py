"""`python -m pipeline evaluate CKPT`: metrics of a checkpoint on a split, from the checkpoint alone.

Model, vocabularies and data settings come from the checkpoint; `--data.*` overrides the data
(another copy of the corpus, another split file), `--trainer.*` the hardware. Only the scored split is read
and tokenized, so a user's file given as that split alone (`--data.test_files my.txt`) is enough.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable

import pytorch_lightning as pl
from jsonargparse import ArgumentParser, Namespace

from data_modules.files import write_atomic
from data_modules.split_files import canonical_split
from pipeline import checks, lm_embeddings, model_card, report
from pipeline import config as configs
from pipeline.checkpoints import Saved, open_checkpoint
from pipeline.errors import PipelineError
from pipeline.paths import check_output, read_paths
from pipeline.trainer import build_trainer, cpu_kernels, prepare_and_setup

SPLIT_STAGE = {"validation": "val", "test": "test"}


def checkpoint_command(
    args: list[str], prog: str, extra: Callable[[ArgumentParser], None], want: str | None = None
) -> tuple[Saved, Namespace]:
    """Checkpoint + command line -> (the checkpoint, this command's args): the shared front of evaluate and
    predict. `extra(parser)` adds the command's own arguments. `--data.*` defaults are the checkpoint's,
    `--trainer.*` defaults are one device with the training precision.
    """
    if not args or args[0].startswith("-"):
        raise PipelineError(f"Usage: {prog} CHECKPOINT [options]; see {prog} --help.")
    saved = open_checkpoint(args[0], want, prog.rsplit(" ", 1)[-1])
    text = saved.contents["pipeline"]["config"]
    trained = configs.train_parser(saved.task).parse_string(configs.upgrade(text))
    p = ArgumentParser(prog=prog, exit_on_error=False, allow_abbrev=False)
    p.add_argument("checkpoint", type=str, help="A .ckpt written by `train`.")
    p.add_argument("--verbose", type=bool, default=False, help="Show tracebacks for errors.")
    extra(p)
    p.add_class_arguments(saved.task.data_config, "data")
    p.add_class_arguments(pl.Trainer, "trainer", skip=configs.TRAINER_SKIP)
    p.set_defaults({f"data.{k}": v for k, v in trained.data.items()})
    p.set_defaults({"trainer.precision": trained.trainer.precision, "trainer.devices": 1})
    cfg = configs.parse(p, args)
    checks.check_config(saved.task.data_config(**cfg.data.as_dict()), "data.")
    checks.check_trainer(cfg.trainer.as_dict())
    return saved, cfg


def main(args: list[str]) -> dict:
    def extra(p: ArgumentParser) -> None:
        p.add_argument(
            "--split", type=str, default="test", help="Split to score: test or validation (valid, val, dev)."
        )
        p.add_argument(
            "--output",
            type=str | None,
            default=None,
            help="Write the metrics as JSON here ('-': standard output).",
        )

    saved, cfg = checkpoint_command(args, "python -m pipeline evaluate", extra)
    split = canonical_split(cfg.split)
    if split not in SPLIT_STAGE:
        raise PipelineError(
            f"--split '{cfg.split}' is no split to score: use test or validation (valid, val, dev)."
        )
    cfg.split = split
    to_stdout = cfg.output == "-"  # the JSON alone on stdout (a pipe); tables and messages on stderr
    if cfg.output and not to_stdout:
        check_output(cfg.output, [cfg.checkpoint, *read_paths(cfg.data)], "--output")
    dm, module = saved.restore(saved.task.data_config(**cfg.data.as_dict()))
    dm.only(split)  # a file given as that split alone is enough, and train is never tokenized
    prepare_and_setup(dm)
    lm_embeddings.attach(dm, module)
    trainer = build_trainer(cfg.trainer.as_dict() | ({"enable_progress_bar": False} if to_stdout else {}))
    with cpu_kernels(trainer):
        if cfg.split == "test":
            trainer.test(module, datamodule=dm, verbose=False)
        else:
            trainer.validate(module, datamodule=dm, verbose=False)
    result = report.nest(module.last_result.get(SPLIT_STAGE[cfg.split], {}))
    out = {"split": cfg.split, "checkpoint": cfg.checkpoint, **result}
    if trainer.is_global_zero:
        report.print_result(cfg.split, result, saved.task, stderr=to_stdout)
        if to_stdout:
            print(json.dumps(out, indent=2, sort_keys=True), flush=True)
        elif cfg.output:
            write_atomic(cfg.output, json.dumps(out, indent=2, sort_keys=True) + "\n")
        text = saved.contents["pipeline"]["config"]
        changed = other_data(saved, cfg.data.as_dict())
        if not changed:
            model_card.refresh(cfg.checkpoint, saved.task.name, text, SPLIT_STAGE[cfg.split], result)
        elif model_card.run_folder(cfg.checkpoint):
            print(f"Scored with other data settings than the run's ({', '.join(changed)}): its model card keeps "
                  "the run's own scores.", file=sys.stderr if to_stdout else sys.stdout)  # fmt: skip
    return out


# Data settings that change how the data is read and batched, not which sentences and tags are scored.
LOADING = {"num_workers", "num_proc", "cache_dir", "batch_size", "eval_batch_size", "max_tokens_per_batch",
           "bucket", "seed"}  # fmt: skip


def other_data(saved: Saved, data: dict) -> list[str]:
    """The `data.*` settings of this evaluation that differ from the run's own (loading settings aside): scores
    on another file, corpus or column are not the run's, so they stay out of its model card."""
    text = configs.upgrade(saved.contents["pipeline"]["config"])
    trained = configs.train_parser(saved.task).parse_string(text).data.as_dict()
    return sorted(
        f"data.{k}" for k, v in trained.items() if k not in LOADING and not same_setting(data.get(k), v)
    )


def same_setting(a, b) -> bool:
    """Equal values, or paths (lists of paths) spelling the same existing files or folders differently
    (`../shared/data/x` and `/work/shared/data/x`)."""
    if a == b:
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_setting(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        with contextlib.suppress(OSError):
            return os.path.samefile(a, b)
    return False
