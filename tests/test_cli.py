"""The command line end to end on a tiny corpus: recipes, config errors, train, resume, evaluate, generate, W&B."""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch
import yaml

from pipeline import config as configs
from pipeline.__main__ import main as cli
from pipeline.tasks import TASKS
from tests.conftest import CONF

DEMO = CONF / "lm" / "demo.yaml"


def recipes() -> list[Path]:
    return sorted(CONF.rglob("*.yaml"))


# ---------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("recipe", recipes(), ids=lambda p: str(p.relative_to(CONF)))
def test_every_recipe_parses(recipe):
    # Hardware profiles hold only `trainer:` keys and are combined with a task recipe.
    args = ["--config", str(recipe)]
    if recipe.parent.name == "trainer":
        assert set(yaml.safe_load(recipe.read_text()) or {}) <= {"trainer"}, "a profile sets trainer.* only"
        args = ["--config", str(DEMO), *args]
    task = TASKS[configs.peek_task(args)]
    parser = configs.train_parser(task)
    # Instantiating builds the config objects (not a Trainer: a GPU profile must parse on a CPU machine).
    cfg = parser.instantiate_classes(configs.parse(parser, args))
    assert cfg.task == task.name
    assert isinstance(cfg.data, task.data_config) and isinstance(cfg.model, task.model_config)


def test_unknown_key_suggests_the_right_one(run_cli):
    result = run_cli("train", "--config", str(DEMO), "--data.batchsize", "3")
    assert result.returncode == 2, result.stderr
    assert "Did you mean 'data.batch_size'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("flag", "value", "key"),
    [("--data.batch_size", "many", "batch_size"), ("--data.tokenizer", "sentencepiece", "tokenizer")],
)
def test_wrong_type_is_an_error(capsys, flag, value, key):
    assert cli(["train", "--config", str(DEMO), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and key in err and "Traceback" not in err


def test_unknown_command_and_missing_recipe(capsys, tmp_path):
    assert cli(["fly"]) == 2
    assert cli(["train", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- a trained run
@pytest.fixture(scope="module")
def trained(tmp_path_factory, lm_corpus, tiny_lm_args):
    """One tiny run with W&B offline, shared by the read-only tests below."""
    import wandb

    work = tmp_path_factory.mktemp("cli")
    args = [*tiny_lm_args(work, lm_corpus), "--wandb.mode", "offline"]
    assert cli(["train", *args]) == 0
    # Lightning's WandbLogger never finishes its run; the offline files are complete only once it is. W&B also
    # leaves its service address in os.environ, where later `python -m pipeline` subprocesses would pick it up
    # and write their runs through this process's service: shut it down and forget it.
    wandb.finish()
    wandb.teardown()
    os.environ.pop("WANDB_SERVICE", None)
    run = work / "runs" / "tiny"
    return {"work": work, "args": args, "run": run, "metrics": json.loads((run / "metrics.json").read_text())}


def test_run_directory(trained):
    run = trained["run"]
    for name in ("config.yaml", "tokenizer.json", "checkpoints/last.ckpt", "checkpoints/best.ckpt",
                 "metrics.csv", "metrics.json", "wandb_id"):  # fmt: skip
        assert (run / name).is_file(), name
    metrics = trained["metrics"]
    for split in ("val", "test"):
        assert {"loss", "ppl", "perplexity", "tokens"} <= set(metrics[split])
        assert metrics[split]["perplexity"] == pytest.approx(
            torch.tensor(metrics[split]["loss"]).exp().item()
        )
    assert metrics["global_step"] > 0
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/loss", "train/ppl", "val/loss", "val/ppl", "test/ppl"} <= set(header)
    config_text = (run / "config.yaml").read_text()
    saved = yaml.safe_load(config_text)
    assert saved["model"]["hidden_size"] == 16 and saved["data"]["path"] == trained["args"][3]
    for ckpt in ("last", "best"):
        state = torch.load(run / "checkpoints" / f"{ckpt}.ckpt", map_location="cpu", weights_only=True)
        assert state["pipeline"]["config"] == config_text
        assert state["pipeline"]["task"] == "lm"
        assert state["pipeline"]["artifacts"]["tokenizer.json"] == (run / "tokenizer.json").read_text()


@pytest.mark.parametrize("split", ["test", "validation"])
def test_evaluate_matches_training_metrics(trained, tmp_path, split, capsys):
    out = tmp_path / "m.json"
    best = str(trained["run"] / "checkpoints" / "best.ckpt")
    assert cli(["evaluate", best, "--split", split, "--output", str(out),
                "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    expected = trained["metrics"]["test" if split == "test" else "val"]
    assert result["split"] == split
    assert result["tokens"] == expected["tokens"]
    assert result["perplexity"] == pytest.approx(expected["perplexity"], rel=1e-4)
    assert result["loss"] == pytest.approx(expected["loss"], rel=1e-4)
    assert f"{expected['tokens']:,}" in capsys.readouterr().out  # the printed table


def test_generate_is_seeded(trained, capsys):
    best = str(trained["run"] / "checkpoints" / "best.ckpt")
    common = [
        "generate",
        best,
        "--prompt",
        "w3",
        "--max-tokens",
        "30",
        "--temperature",
        "0.8",
        "--top-k",
        "40",
    ]
    texts = []
    for seed in ("0", "0", "1"):
        capsys.readouterr()
        assert cli([*common, "--seed", seed]) == 0
        texts.append(capsys.readouterr().out.strip())
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]
    assert texts[0].startswith("w3 ") and len(texts[0].split()) > 3


def test_a_gpu_checkpoint_evaluates_and_generates_on_cpu(trained, tmp_path, capsys):
    """The saved trainer settings (GPUs, DDP, bf16) describe the training machine, not this one."""
    state = torch.load(trained["run"] / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    saved = yaml.safe_load(state["pipeline"]["config"])
    saved["trainer"].update(accelerator="gpu", devices=4, num_nodes=2, strategy="ddp")
    state["pipeline"]["config"] = yaml.safe_dump(saved)
    ckpt = tmp_path / "gpu.ckpt"
    torch.save(state, ckpt)
    assert cli(["generate", str(ckpt), "--max-tokens", "5"]) == 0
    assert cli(["evaluate", str(ckpt), "--trainer.enable_progress_bar", "false"]) == 0, (
        capsys.readouterr().err
    )


def test_generate_refuses_a_bad_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    assert cli(["generate", str(bad)]) == 2
    assert cli(["evaluate", str(tmp_path / "missing.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "bad.ckpt" in err and "missing.ckpt" in err and "Traceback" not in err


def wandb_records(path: Path):
    """The protobuf records of a `.wandb` file (a LevelDB-style log: 32 KiB blocks of CRC/length/type chunks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, pending, block = 7, b"", 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            break
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST chunk: a record is complete
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def test_wandb_offline_run_has_val_ppl(trained):
    files = list((trained["run"] / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    run_id = (trained["run"] / "wandb_id").read_text().strip()
    assert files[0].name == f"run-{run_id}.wandb"
    logged: dict[str, list[float]] = {}
    for record in wandb_records(files[0]):
        if record.WhichOneof("record_type") == "history":
            for item in record.history.item:
                logged.setdefault(item.key or "/".join(item.nested_key), []).append(
                    json.loads(item.value_json)
                )
    assert {"train/loss", "train/ppl", "val/loss", "val/ppl", "test/ppl"} <= set(logged)
    assert logged["val/ppl"][-1] == pytest.approx(trained["metrics"]["val"]["perplexity"], rel=1e-5)


# ---------------------------------------------------------------------------------------------- resume, fresh, seed
def test_same_command_resumes_and_fresh_starts_over(trained, tmp_path, caplog, lm_corpus, tiny_lm_args):
    # A copy of the run (without W&B), so the other tests keep reading the original.
    runs = tmp_path / "runs"
    shutil.copytree(trained["run"], runs / "tiny", ignore=shutil.ignore_patterns("wandb*"))
    args = tiny_lm_args(tmp_path, lm_corpus)
    steps = trained["metrics"]["global_step"]

    def train(*extra: str) -> dict:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert cli(["train", *args, *extra]) == 0
        return json.loads((runs / "tiny" / "metrics.json").read_text())

    again = train()
    assert "resuming from" in caplog.text and "last.ckpt" in caplog.text
    assert again["global_step"] == steps  # nothing left to train: not started over
    longer = train("--trainer.max_epochs", "2")
    assert "resuming from" in caplog.text
    assert longer["global_step"] == 2 * steps and longer["epochs"] == 2
    fresh = train("--fresh", "true")
    assert "resuming" not in caplog.text
    assert fresh["global_step"] == steps
    # Same seed, same data: starting over reproduces the first run exactly.
    assert fresh["test"]["perplexity"] == pytest.approx(trained["metrics"]["test"]["perplexity"], rel=1e-6)


def test_seed_changes_the_run(trained, tmp_path, lm_corpus, tiny_lm_args):
    assert cli(["train", *tiny_lm_args(tmp_path, lm_corpus), "--seed", "7"]) == 0
    other = json.loads((tmp_path / "runs" / "tiny" / "metrics.json").read_text())
    assert other["global_step"] == trained["metrics"]["global_step"]
    assert other["test"]["perplexity"] != pytest.approx(trained["metrics"]["test"]["perplexity"], rel=1e-6)


def test_prepare_fills_the_cache_then_train_uses_it(tmp_path, lm_corpus, tiny_lm_args, capsys):
    args = tiny_lm_args(tmp_path, lm_corpus)
    assert cli(["prepare", *args]) == 0
    assert "train tokens=" in capsys.readouterr().out
    assert len(list((tmp_path / "cache").glob("ids-*.npy"))) == 3
