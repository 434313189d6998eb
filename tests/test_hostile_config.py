"""Class 10 of issue 12: every bad value is one line, exit 2, no traceback, nothing written.

The test walks every numeric field of every config dataclass (and the Trainer's numbers), so a field added
later without a declared range fails here rather than with a traceback in someone's run.
"""

from __future__ import annotations

import dataclasses
import errno
import typing

import pytest

from data_modules.lm.config import LMDataConfig
from data_modules.sources import SourceConfig
from data_modules.tagging.config import TaggingDataConfig
from models.lstm_lm import LMConfig
from models.optim import OptimConfig
from models.tagger import TaggerConfig
from pipeline.__main__ import main
from pipeline.checks import TRAINER_RANGES
from pipeline.config import CheckpointConfig, TrainingConfig
from pipeline.early_stopping import EarlyStoppingConfig

GROUPS = [
    ("lm", "data", LMDataConfig), ("tagger", "data", TaggingDataConfig), ("lm", "data", SourceConfig),
    ("lm", "model", LMConfig), ("tagger", "model", TaggerConfig), ("lm", "optim", OptimConfig),
    ("lm", "training", TrainingConfig), ("lm", "checkpoint", CheckpointConfig),
    ("lm", "early_stopping", EarlyStoppingConfig),
]  # fmt: skip
# Numeric fields on purpose without a range: any integer is a valid column index (negative counts from the end).
FREE = {"conll_token_index", "conll_tag_index"}


def numeric(tp) -> bool:
    args = typing.get_args(tp) or (tp,)
    return any(a in (int, float) for a in args)


def out_of_range(rule: dict) -> list[float]:
    """Values just outside each bound of `rule`."""
    values = []
    if "min" in rule:
        values.append(rule["min"] - 1)
    if "above" in rule:
        values.append(rule["above"] - 0.5 if rule["above"] else 0)
    if "max" in rule:
        values.append(rule["max"] + 1)
    if "below" in rule:
        values.append(rule["below"] + 0.5)
    return values


def cases():
    for task, group, cls in GROUPS:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not numeric(hints[f.name]) or f.name in FREE:
                continue
            assert f.metadata, f"{cls.__name__}.{f.name} declares no range"
            for value in out_of_range(f.metadata):
                if hints[f.name] is int or int in typing.get_args(hints[f.name]):
                    value = int(value) if float(value).is_integer() else value
                yield pytest.param(task, f"{group}.{f.name}", value, id=f"{task}-{group}.{f.name}={value}")
    for key, rule in TRAINER_RANGES.items():
        for value in out_of_range(rule):
            yield pytest.param("lm", f"trainer.{key}", value, id=f"trainer.{key}={value}")
    yield pytest.param("lm", "seed", -1, id="seed=-1")
    yield pytest.param("lm", "trainer.devices", 0, id="devices=0")


def assert_one_line(code: int, err: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize(("task", "key", "value"), list(cases()))
def test_every_numeric_field_refuses_out_of_range(task, key, value, tmp_path, capsys):
    args = ["train", "--task", task, "--data.path", str(tmp_path / "corpus"), "--runs_dir", str(tmp_path / "runs"),
            "--data.cache_dir", str(tmp_path / "cache"), "--wandb.mode", "disabled", f"--{key}", str(value)]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert_one_line(code, err)
    assert key.split(".")[-1] in err or "trainer" in err
    assert list(tmp_path.iterdir()) == []  # nothing written: no run folder, no cache


def test_gpu_profile_without_a_gpu_is_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(
        [
            "train",
            "--runs_dir",
            str(tmp_path / "runs"),
            "--trainer.accelerator",
            "gpu",
            "--trainer.devices",
            "2",
        ]
    )
    assert_one_line(code, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("data: {path: [unclosed\n", "not valid YAML (line"),
        ("- a\n- b\n", "must be a mapping"),
        ("data:\n  - path\n", "'data' must be a mapping"),
        (None, "is a folder"),
        ("missing", "does not exist"),
    ],
)
def test_recipe_errors_name_the_file(text, words, tmp_path, capsys):
    path = tmp_path / "recipe.yaml"
    if text is None:
        path.mkdir()
    elif text == "missing":
        path = tmp_path / "missing.yaml"
    else:
        path.write_text(text)
    for args in (["--config", str(path)], [f"--config={path}"]):
        code = main(["train", *args, "--runs_dir", str(tmp_path / "runs")])
        err = capsys.readouterr().err
        assert_one_line(code, err)
        assert str(path) in err and words in err
    assert not (tmp_path / "runs").exists()


def test_an_oserror_about_a_user_path_is_one_line(tmp_path, capsys, monkeypatch):
    import pipeline.commands.prepare as prepare

    def vanished(args):
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / "gone.txt"))

    monkeypatch.setattr(prepare, "main", vanished)
    code = main(["prepare"])
    err = capsys.readouterr().err
    assert_one_line(code, err)
    assert "gone.txt" in err

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device")  # f.write on a full disk names no file

    monkeypatch.setattr(prepare, "main", full)
    code = main(["prepare"])
    err = capsys.readouterr().err
    assert_one_line(code, err)
    assert "No space left" in err
