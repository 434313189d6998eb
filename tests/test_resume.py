"""Exact resume: a run stopped mid-epoch (SIGTERM, or SIGKILL after a periodic checkpoint) and restarted
ends with the same parameters, bit for bit, and the same logged validation values as a run never stopped.

Runs are subprocesses of a small wrapper that adds one callback: at a chosen step, rank 0 sends the
signal to the whole process group (all DDP ranks, as a scheduler would).
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data_modules.synthetic import random_hmm, write_tagging_corpus
from tests.conftest import CONF, ROOT

WRAPPER = """
import os, signal, sys
import pytorch_lightning as pl
import pipeline.commands.train as train
from pipeline.__main__ import main

STEP = int(os.environ.get("KILL_STEP", "-1"))
SIG = getattr(signal, os.environ.get("KILL_SIGNAL", "SIGTERM"))


class Killer(pl.Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == STEP and trainer.global_rank == 0:
            if os.environ.get("KILL_SCOPE") == "process":
                os.kill(os.getpid(), SIG)
            else:
                os.killpg(os.getpgid(0), SIG)


original = train.training_callbacks
train.training_callbacks = lambda *args: [*original(*args), Killer()]
sys.exit(main())
"""


def run(script: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    # A session of its own: the killer signals its process group, never pytest's.
    return subprocess.run(
        [sys.executable, str(script), "train", *args], cwd=ROOT, env=environ, capture_output=True,
        text=True, timeout=300, start_new_session=True,
    )  # fmt: skip


def final_state(run_dir: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's weights; with a weight average, the live weights too (`current_model_state`)."""
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    live = {f"live.{k}": v for k, v in ckpt.get("current_model_state", {}).items()}
    return ckpt["state_dict"] | live


def val_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [k for k in rows[0] if k.startswith("val/")] + ["step", "epoch"]
    return [{k: r[k] for k in keys} for r in rows if any(r[k] for k in keys if k.startswith("val/"))]


def lm_args(work: Path, corpus: Path, name: str, processes: int) -> list[str]:
    return [
        "--config", str(CONF / "lm" / "demo.yaml"), "--data.path", str(corpus),
        "--data.cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", name,
        "--data.batch_size", "4", "--data.eval_batch_size", "3", "--data.bptt", "10",
        "--model.embedding_size", "16", "--model.hidden_size", "16", "--model.dropout", "0.3",
        "--trainer.max_epochs", "2", "--trainer.deterministic", "true", "--trainer.log_every_n_steps", "5",
        "--trainer.val_check_interval", "0.5", "--checkpoint.every_n_train_steps", "10",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--wandb.mode", "disabled", "--trainer.devices", str(processes), "--trainer.accelerator", "cpu",
        *(["--trainer.strategy", "ddp"] if processes > 1 else []),
    ]  # fmt: skip


def tagger_args(work: Path, corpus: Path, name: str, processes: int) -> list[str]:
    return [
        "--config", str(CONF / "tagger" / "demo.yaml"), "--data.path", str(corpus),
        "--data.cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", name,
        "--data.batch_size", "8", "--model.hidden_size", "16", "--model.word_embedding_size", "16",
        "--model.dropout", "0.3", "--model.word_dropout", "0.1",
        "--trainer.max_epochs", "2", "--trainer.deterministic", "true", "--trainer.log_every_n_steps", "5",
        "--checkpoint.every_n_train_steps", "10",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--wandb.mode", "disabled", "--trainer.devices", str(processes), "--trainer.accelerator", "cpu",
        *(["--trainer.strategy", "ddp"] if processes > 1 else []),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def tag_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tag-corpus")
    write_tagging_corpus(
        folder, random_hmm(num_states=4, vocab_size=30, seed=1), {"train": 150, "validation": 31, "test": 31}
    )
    return folder


EMA = ["--training.ema_decay", "0.9"]
ADAPTIVE = ["--model.softmax", "adaptive", "--model.tie_weights", "false", "--model.cutoffs", "[5, 15]"]
CASES = [
    pytest.param("lm", 1, [], id="lm-1proc"),
    pytest.param("tagger", 1, [], id="tagger-1proc"),
    pytest.param("tagger", 1, EMA, id="tagger-1proc-ema"),
    pytest.param(
        "lm", 1, ADAPTIVE, id="lm-1proc-adaptive"
    ),  # its ranks differ from lm-2proc in nothing but the head
    pytest.param("lm", 2, [], id="lm-2proc"),
    pytest.param("tagger", 2, [], id="tagger-2proc"),
    pytest.param("tagger", 2, ["--data.max_tokens_per_batch", "40"], id="tagger-2proc-max-tokens"),
]


@pytest.mark.parametrize(("task", "processes", "extra"), CASES)
def test_stopped_and_resumed_equals_uninterrupted(task, processes, extra, tmp_path, lm_corpus, tag_corpus):
    script = tmp_path / "wrapped.py"
    script.write_text(WRAPPER)
    build, corpus = (lm_args, lm_corpus) if task == "lm" else (tagger_args, tag_corpus)

    def make_args(*args):
        return [*build(*args), *extra]

    full = run(script, make_args(tmp_path, corpus, "full", processes))
    assert full.returncode == 0, full.stderr[-3000:]
    reference = final_state(tmp_path / "runs" / "full")

    # SIGTERM at step 13: checkpoint written at the step boundary, non-zero exit, same command resumes.
    # SIGKILL at step 17: nothing written at the kill; the periodic checkpoint of step 10 is resumed.
    for sig, step in (("SIGTERM", 13), ("SIGKILL", 17)):
        name = f"cut-{sig.lower()}"
        args = make_args(tmp_path, corpus, name, processes)
        cut = run(script, args, KILL_STEP=str(step), KILL_SIGNAL=sig)
        assert cut.returncode != 0
        if sig == "SIGTERM":
            assert re.search(r"error: Received SIGTERM: stopped at step 1[34] after writing", cut.stderr), (
                cut.stderr
            )
            assert cut.returncode == 128 + signal.SIGTERM
            assert "Traceback" not in cut.stderr
        else:
            assert cut.returncode == -signal.SIGKILL
        resumed = run(script, args)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "resuming from" in resumed.stderr + resumed.stdout
        state = final_state(tmp_path / "runs" / name)
        assert state.keys() == reference.keys()
        for key in reference:
            assert torch.equal(state[key], reference[key]), f"{sig}: {key} differs after resume"
        assert val_rows(tmp_path / "runs" / name) == val_rows(tmp_path / "runs" / "full")


def wandb_history(run_dir: Path) -> list[tuple[str, list[tuple[int, str, float]]]]:
    """Per offline W&B file (oldest first): its run id and its (trainer/global_step, key, value) entries in order."""
    from tests.test_cli import wandb_records

    out = []
    for path in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb")):
        entries = []
        for record in wandb_records(path):
            if record.WhichOneof("record_type") != "history":
                continue
            items = {
                item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in record.history.item
            }
            step = items.pop("trainer/global_step", None)
            entries += [
                (step, key, value)
                for key, value in sorted(items.items())
                if not key.startswith("_") and key != "train/tokens_per_sec"
            ]
        out.append((path.name, entries))
    return out


def test_wandb_run_continues_across_stop_and_resume(tmp_path, lm_corpus):
    """Also through a W&B service shared with a parent process (a notebook or script that runs W&B itself
    and launches `train`): the stopped run must close its stream there, or the resumed run, which reuses
    its id, is refused with "run ID ... is in use"."""
    import wandb

    # A service started by an earlier test of this process is reused without re-announcing itself in
    # os.environ (which the autouse fixture cleared): start a fresh one, whose address the subprocesses inherit.
    wandb.teardown()
    wandb.init(mode="offline", dir=str(tmp_path)).finish()
    assert "WANDB_SERVICE" in os.environ
    try:
        shared_service_stop_and_resume(tmp_path, lm_corpus)
    finally:
        wandb.teardown()


def shared_service_stop_and_resume(tmp_path, lm_corpus):
    from tests.test_cli import wandb_records

    script = tmp_path / "wrapped.py"
    script.write_text(WRAPPER)
    args = [*lm_args(tmp_path, lm_corpus, "full", 1), "--wandb.mode", "offline"]
    assert run(script, args).returncode == 0
    ((_, reference),) = wandb_history(tmp_path / "runs" / "full")

    args[args.index("full")] = "cut"
    assert run(script, args, KILL_STEP="17", KILL_SIGNAL="SIGTERM").returncode == 128 + signal.SIGTERM
    (stopped,) = (tmp_path / "runs" / "cut" / "wandb").glob("offline-run-*/run-*.wandb")
    exits = [r.exit.exit_code for r in wandb_records(stopped) if r.WhichOneof("record_type") == "exit"]
    assert exits == [128 + signal.SIGTERM]  # the stopped run is closed, with the command's exit status
    resumed = run(script, args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    files = wandb_history(tmp_path / "runs" / "cut")
    assert len(files) == 2 and files[0][0] == files[1][0]  # one run id: run-<id>.wandb in both sessions
    combined = files[0][1] + files[1][1]
    assert [step for step, _, _ in combined] == sorted(step for step, _, _ in combined)
    assert [(s, k) for s, k, _ in combined] == [
        (s, k) for s, k, _ in reference
    ]  # nothing repeated, nothing missing
    for (_, key, value), (_, _, expected) in zip(combined, reference):
        assert value == pytest.approx(expected, rel=1e-6), key


def test_the_step_seed_on_a_cpu_only_process_is_torch_manual_seed_without_its_stack_traces(monkeypatch):
    """On the CPU, seed_step seeds exactly what torch.manual_seed does for the draws a step makes (the oracle),
    without the formatted stack trace torch records per call for each accelerator it would seed lazily."""
    import hashlib
    import traceback

    from pipeline.checkpoints import seed_step

    seed = int.from_bytes(hashlib.blake2b(b"7/2/31/1", digest_size=8).digest(), "little")
    torch.manual_seed(seed)
    expected = (torch.rand(4), torch.nn.functional.dropout(torch.ones(8), 0.5))
    torch.manual_seed(0)
    monkeypatch.setattr(traceback, "format_stack", lambda *a, **k: pytest.fail("format_stack called"))
    seed_step(7, 2, 31, 1)
    got = (torch.rand(4), torch.nn.functional.dropout(torch.ones(8), 0.5))
    assert torch.initial_seed() == seed
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
