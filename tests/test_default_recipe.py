"""`make train` with no CONFIG: the recipe it runs, and the corpus shipped for it, work with no network.

The shipped Tiny Shakespeare must load through the same source resolution as a user's folder of text
files, from any working directory, and stay small enough to track; the recipe must parse and train.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import math
import re
from pathlib import Path

import pytest

from data_modules.errors import DataError
from data_modules.files import check_utf8
from data_modules.sources import load_source, resolve_source
from pipeline import config as configs
from pipeline.__main__ import main as cli
from pipeline.tasks import TASKS
from tests.conftest import ROOT

CORPUS = ROOT / "data_modules" / "corpora" / "tinyshakespeare"
SPLIT_FILES = {"train": "train.txt.gz", "validation": "valid.txt.gz", "test": "test.txt.gz"}


def default_recipe() -> Path:
    """The recipe `make train` runs when no CONFIG is given, as the Makefile names it."""
    found = re.search(r"^DEFAULT_CONFIG := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile names its default recipe in DEFAULT_CONFIG"
    return ROOT / found.group(1)


def shipped_text(name: str) -> str:
    return gzip.decompress((CORPUS / name).read_bytes()).decode("utf-8")


def parsed(*overrides: str):
    args = ["--config", str(default_recipe()), *overrides]
    task = TASKS[configs.peek_task(args)]
    parser = configs.train_parser(task)
    raw = configs.parse(parser, args)
    return raw, parser.instantiate_classes(raw)


def test_shipped_corpus_is_small_documented_and_packaged():
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    assert {p.name for p in files} == {*SPLIT_FILES.values(), "README.md"}
    for p in files:
        assert p.stat().st_size < 1_000_000, f"{p.name} is too large to track"
    readme = (CORPUS / "README.md").read_text()
    assert "char-rnn" in readme and "public domain" in readme  # its source and its licence
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for p in files:
        relative = str(p.relative_to(ROOT / "data_modules"))
        assert any(fnmatch.fnmatch(relative, g) for g in globs["data_modules"]), f"{relative} is not packaged"


def test_default_recipe_trains_the_shipped_corpus_with_a_step_count_and_a_time_cap():
    raw, cfg = parsed()
    assert cfg.task == "lm" and cfg.data.tokenizer == "char"
    assert cfg.data.path == "data_modules/corpora/tinyshakespeare"
    assert raw.trainer.max_steps == 500 and raw.trainer.max_time == "00:00:06:00"


def test_shipped_corpus_loads_like_any_text_folder_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the recipe's relative path still finds the package's copy
    _, cfg = parsed()
    source = resolve_source(cfg.data.path)
    assert source.fingerprint.startswith("files:")  # a folder of split files, the `text` builder's path
    ds = source.load()
    assert set(ds) == {"train", "validation", "test"}
    chars = {split: sum(len(line) + 1 for line in d["text"]) for split, d in ds.items()}
    for split, name in SPLIT_FILES.items():
        text = shipped_text(name)
        assert chars[split] == len(text) + (not text.endswith("\n"))  # every character, as lines
    assert ds["train"][0]["text"] == "First Citizen:"
    assert chars["train"] / sum(chars.values()) == pytest.approx(0.9, abs=1e-4)
    assert chars["validation"] == pytest.approx(chars["test"], abs=2)


def test_gzipped_split_files_get_the_same_checks_as_plain_ones(tmp_path):
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(gzip.compress(b"good text\n\xff bad"))
    with pytest.raises(DataError, match=r"bad\.txt\.gz: invalid UTF-8 at byte offset 10 of the decompressed"):
        check_utf8(str(bad))
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(gzip.compress(b"some text\n" * 100)[:30])
    with pytest.raises(DataError, match=r"broken\.txt\.gz: not a readable gzip file"):
        check_utf8(str(broken))
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in (("train", b"a line\n"), ("valid", b"a line\n"), ("test", b"")):
        (folder / f"{name}.txt.gz").write_bytes(gzip.compress(text))
    with pytest.raises(DataError, match="The test split is empty"):
        load_source(str(folder))


def test_a_few_steps_of_the_default_recipe_on_a_truncated_copy(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SPLIT_FILES.values():
        head = shipped_text(name)[: 8000 if name.startswith("train") else 3000]
        (corpus / name).write_bytes(gzip.compress(head.encode()))
    args = ["train", "--config", str(default_recipe()), "--data.path", str(corpus),
            "--data.cache_dir", str(tmp_path / "cache"), "--runs_dir", str(tmp_path / "runs"),
            "--name", "default", "--trainer.max_steps", "2", "--trainer.val_check_interval", "1.0",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--wandb.mode", "disabled"]  # fmt: skip
    assert cli(args) == 0
    test = json.loads((tmp_path / "runs" / "default" / "metrics.json").read_text())["test"]
    assert test["bits"] == pytest.approx(test["loss"] / math.log(2))
    assert "bits" in capsys.readouterr().out  # the printed table shows bits per character
    best = str(tmp_path / "runs" / "default" / "checkpoints" / "best.ckpt")
    assert cli(["generate", best, "--prompt", "ROMEO:", "--max-tokens", "20"]) == 0
    assert capsys.readouterr().out.startswith("ROMEO:")
