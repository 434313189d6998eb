"""Typed configuration: one parser per task, built from the config dataclasses and `Trainer`'s signature.

A recipe in conf/ is a flat YAML of the same keys; any key can be overridden with a dotted flag
(`--data.batch_size 64`, `--trainer.max_epochs 3`). jsonargparse checks types; unknown keys are
errors with a did-you-mean, added here because jsonargparse only says what it did not expect.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

import pytorch_lightning as pl
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace, set_parsing_settings

from pipeline import checks
from pipeline.early_stopping import EarlyStoppingConfig
from pipeline.errors import PipelineError
from pipeline.tasks import TASKS, Task

# Trainer arguments the pipeline owns: it builds loggers, callbacks and the run directory itself.
TRAINER_SKIP = {
    "logger",
    "callbacks",
    "plugins",
    "default_root_dir",
    "enable_checkpointing",
    "use_distributed_sampler",
}


# `--help` shows each config field's docstring (the string under the field), not only its type and default.
set_parsing_settings(docstring_parse_attribute_docstrings=True)

RENAMED = {"optim.ema_decay": "training.ema_decay"}
"""Keys of earlier versions and their names today (saved configs are upgraded on read: `upgrade`)."""


@dataclass
class WandbConfig:
    """Weights & Biases tracking (the CSV record in the run directory is kept whatever this says)."""

    mode: Literal["auto", "online", "offline", "disabled"] = "auto"
    """auto = online when W&B credentials exist, offline otherwise."""
    project: str = "lstm-pipeline"
    """W&B project name."""
    entity: str | None = None
    """W&B team or user; None = your default entity."""
    tags: list[str] = field(default_factory=list)
    """Tags attached to the W&B run."""
    log_model: Literal["best", "last", False] = False
    """Log best.ckpt or last.ckpt (with the model card) as a W&B model artifact when training ends; false = no."""


@dataclass
class TrainingConfig:
    """How training runs beyond the optimizer's update rule."""

    ema_decay: float = field(default=0.0, metadata={"min": 0, "below": 1})
    """Keep an exponential moving average of the weights with this decay per optimizer step (0.999 averages
    about the last 1000 steps); validation, best.ckpt, evaluate and predict then use the averaged weights.
    Early in training the decay is min(ema_decay, (1 + step) / (10 + step)), so a short run's average is not
    the untrained first weights. 0 disables it."""
    ema_every_n_steps: int = field(default=10, metadata={"min": 1})
    """Update the average every N optimizer steps with decay**N instead of every step with decay: the same
    time constant, and the copy over all weights costs 1/N as much (it was 12% of the tagger's CPU step)."""


@dataclass
class CheckpointConfig:
    """When checkpoints are written (last.ckpt and best.ckpt always are, after each validation)."""

    every_n_train_steps: int | None = field(default=None, metadata={"min": 1})
    """Also write step-N.ckpt (and refresh last.ckpt) every N optimizer steps; None = at validation only."""
    every_minutes: float | None = field(default=None, metadata={"above": 0})
    """Also write step-N.ckpt (and refresh last.ckpt) after this much wall time (ignored with every_n_train_steps)."""
    keep: int = field(default=3, metadata={"min": 1})
    """How many periodic step-N.ckpt files to keep (the newest)."""


def peek_task(args: list[str]) -> str:
    """The task named by `--task` or by the recipe given with `--config`, before the full parse."""
    task = None
    for i, a in enumerate(args):
        if a == "--config" and i + 1 < len(args):
            task = read_recipe(args[i + 1]).get("task", task)
        elif a.startswith("--config="):
            task = read_recipe(a.split("=", 1)[1]).get("task", task)
        elif a == "--task" and i + 1 < len(args):
            task = args[i + 1]
        elif a.startswith("--task="):
            task = a.split("=", 1)[1]
    task = task or "lm"
    if task not in TASKS:
        raise PipelineError(f"Unknown task '{task}': use one of {', '.join(TASKS)}.")
    return task


def read_recipe(path: str) -> dict:
    """A recipe YAML as a mapping, or one line naming the file and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = yaml.safe_load(f)
    except FileNotFoundError:
        raise PipelineError(f"Config file '{path}' does not exist.") from None
    except IsADirectoryError:
        raise PipelineError(f"Config file '{path}' is a folder; give a YAML file.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PipelineError(f"Config file '{path}' cannot be read: {e}") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise PipelineError(
            f"Config file '{path}' is not valid YAML{line}: {getattr(e, 'problem', e)}."
        ) from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise PipelineError(
            f"Config file '{path}' must be a mapping of keys (key: value), not a {type(tree).__name__}."
        )
    for key, value in tree.items():
        if key in GROUPS and value is not None and not isinstance(value, dict):
            raise PipelineError(
                f"Config file '{path}': '{key}' must be a mapping of keys, not a {type(value).__name__}."
            )
    return tree


GROUPS = ("data", "model", "optim", "training", "early_stopping", "wandb", "checkpoint", "trainer")


def instantiate(parser: ArgumentParser, raw: Namespace) -> Namespace:
    """The parsed config as objects, every declared range and the Trainer settings checked (one line each)."""
    try:
        cfg = parser.instantiate_classes(raw)
    except (TypeError, ValueError) as e:
        raise PipelineError(f"Bad configuration: {' '.join(str(e).split())}") from None
    checks.check_namespace(cfg)
    return cfg


def train_parser(task: Task) -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m pipeline train", exit_on_error=False, allow_abbrev=False, description="Train a model."
    )
    p.add_argument("--config", action=ActionConfigFile, help="A recipe YAML from conf/ (flags override it).")
    p.add_argument("--task", type=Literal[tuple(TASKS)], default=task.name, help="lm or tagger.")
    p.add_argument(
        "--name", type=str | None, default=None, help="Run name: the run lives in <runs_dir>/<name>/."
    )
    p.add_argument("--runs_dir", type=str, default="runs", help="Parent folder of run directories.")
    p.add_argument("--seed", type=int, default=1234, help="Seeds Python, NumPy and torch on every rank.")
    p.add_argument("--fresh", type=bool, default=False, help="Delete the run directory and start over.")
    p.add_argument("--verbose", type=bool, default=False, help="Show tracebacks for errors.")
    p.add_argument("--lr_scaling", type=Literal["none", "linear", "sqrt"], default="none",
                   help="Scale optim.lr with the global batch over the per-device one.")  # fmt: skip
    p.add_class_arguments(task.data_config, "data")
    p.add_class_arguments(task.model_config, "model")
    p.add_class_arguments(task.optim_config, "optim")
    p.add_class_arguments(TrainingConfig, "training")
    p.add_class_arguments(EarlyStoppingConfig, "early_stopping")
    p.add_class_arguments(WandbConfig, "wandb")
    p.add_class_arguments(CheckpointConfig, "checkpoint")
    # instantiate=False: the trainer keys describe the training machine; building a Trainer from them while
    # parsing (or when evaluate/generate read a checkpoint) fails on a machine without those GPUs.
    p.add_class_arguments(pl.Trainer, "trainer", skip=TRAINER_SKIP, instantiate=False)
    return p


def parse(parser: ArgumentParser, args: list[str]) -> Namespace:
    """Parse, turning jsonargparse's messages about unknown keys into a did-you-mean."""
    try:
        return parser.parse_args(args)
    except Exception as e:  # jsonargparse raises ArgumentError, sometimes wrapped
        raise PipelineError(explain(parser, str(e))) from None


def explain(parser: ArgumentParser, message: str) -> str:
    keys = all_keys(parser)
    unknown = re.findall(r"--([\w.]+)", message) if "unrecognized" in message else []
    m = re.search(r"Group '([\w.]+)' does not accept option '(\w+)'", message)
    if m:
        unknown = [f"{m.group(1)}.{m.group(2)}"]
    m = re.search(r"Key '([\w.]+)' is not expected", message) or re.search(
        r'No action for key "([\w.]+)"', message
    )
    if m:
        unknown = [m.group(1)]
    if not unknown:
        return bad_value(message) or "Bad configuration: " + " ".join(message.split())
    lines = []
    for key in unknown:
        if key in RENAMED:
            lines.append(f"Config key '{key}' is now '{RENAMED[key]}'.")
            continue
        near = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        lines.append(f"Unknown config key '{key}'.{hint}")
    return " ".join(lines)


def bad_value(message: str) -> str | None:
    """jsonargparse's several-line type error ('Parser key "data.scheme": Expected a typing.Literal[...]. Got
    value: foo', or a list of Union subtypes) as one sentence: the option, the value, and what it accepts."""
    key = re.search(r'Parser key "([\w.]+)"', message)
    value = re.search(r"(?:Got|Given) value: (.*)", message)
    if not key or not value:
        return None
    choices = re.search(r"Literal\[(.*?)\]", message)
    if choices:
        wanted = "one of " + choices.group(1).replace("'", "")
    else:
        names = re.findall(r"Expected a <class '(\w+)'>", message) or re.findall(r"<class '(\w+)'>", message)
        wanted = " or ".join(dict.fromkeys(n.replace("NoneType", "null") for n in names)) or "another type"
    return f"Bad value for --{key.group(1)}: '{value.group(1).strip()}'; expected {wanted}."


def all_keys(parser: ArgumentParser) -> list[str]:
    """Every dotted key the parser accepts (its defaults' leaves), for did-you-mean."""
    return [key for key in parser.get_defaults().keys() if key != "config"]  # noqa: SIM118 (dotted leaves)


def dump(parser: ArgumentParser, cfg: Namespace) -> str:
    """The resolved config as YAML, without the CLI-only switches."""
    cfg = cfg.clone()
    for key in ("config", "fresh", "verbose", "__path__"):
        if key in cfg:
            del cfg[key]
    return parser.dump(cfg, skip_check=True)


def load(task: Task, text: str) -> Namespace:
    """A resolved config saved by `dump` (in a run directory or a checkpoint) as a Namespace of objects."""
    parser = train_parser(task)
    cfg = parser.parse_string(upgrade(text))
    return parser.instantiate_classes(cfg)


def upgrade(text: str) -> str:
    """A config saved by an older version in today's keys: `optim.ema_decay` became `training.ema_decay`."""
    cfg = yaml.safe_load(text) or {}
    optim = cfg.get("optim") or {}
    if "ema_decay" not in optim:
        return text
    cfg.setdefault("training", {})["ema_decay"] = optim.pop("ema_decay")
    return yaml.safe_dump(cfg, sort_keys=False)
