"""`python -m pipeline train --help` explains every option: each config field's docstring, not only its type."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from pipeline.config import CheckpointConfig, TrainingConfig, WandbConfig
from pipeline.early_stopping import EarlyStoppingConfig
from pipeline.tasks import TASKS


def attribute_docstrings(cls: type) -> dict[str, str]:
    """field name -> the string literal right under it in the class body (of `cls` and its dataclass bases),
    read from the source with `ast`: independent of how jsonargparse finds them."""
    docs = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for stmt, after in zip(body, body[1:]):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[stmt.target.id] = after.value.value
    return docs


def squeeze(text: str) -> str:
    # argparse rewraps help text (and may break a line after a hyphen): compare without any whitespace.
    return "".join(text.split())


def entry(help_text: str, option: str) -> str:
    """The option's own entry in the help: from its line to the next option's (not the usage line)."""
    start = help_text.index(f"\n  {option} ")
    end = help_text.find("\n  --", start + 1)
    return help_text[start : end if end >= 0 else None]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_train_help_shows_every_field_docstring(run_cli, task):
    out = run_cli("train", "--task", task, "--help")
    assert out.returncode == 0, out.stderr
    t = TASKS[task]
    groups = {
        "data": t.data_config,
        "model": t.model_config,
        "optim": t.optim_config,
        "training": TrainingConfig,
        "early_stopping": EarlyStoppingConfig,
        "wandb": WandbConfig,
        "checkpoint": CheckpointConfig,
    }
    checked = 0
    for prefix, cls in groups.items():
        docs = attribute_docstrings(cls)
        for f in dataclasses.fields(cls):
            assert f.name in docs, f"{cls.__name__}.{f.name} has no docstring"
            assert squeeze(docs[f.name]) in squeeze(entry(out.stdout, f"--{prefix}.{f.name}")), (
                f"{prefix}.{f.name}"
            )
            checked += 1
    assert checked > 40


def test_version_names_the_installed_package_and_libraries_without_importing_torch():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    (own,) = re.findall(r'(?m)^version = "([^"]+)"', pyproject)
    code = "import sys; from pipeline.__main__ import main; rc = main(['--version']); print(rc, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line, status = out.strip().splitlines()
    assert status == "0 False"  # answered without starting torch
    assert line.startswith(
        f"lstm-pipeline {own} (torch {torch.__version__}, pytorch-lightning {pl.__version__},"
    )
