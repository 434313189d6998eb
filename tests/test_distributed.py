"""Two-process CPU DDP (gloo): exact evaluation whatever the world size, training that converges with
identical replicas, bf16-mixed close to fp32, and one shared cache when processes start together.

Every run is a real `python -m pipeline ...` subprocess, the way users launch DDP; one thread per
process, because two processes with a thread pool each on two cores slow a tiny LSTM down 50-fold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from data_modules.synthetic import random_hmm, write_lm_corpus

REPO = Path(__file__).resolve().parents[1]
TINY_LM = [
    "--config", "conf/lm/demo.yaml", "--model.embedding_size", "32", "--model.hidden_size", "32",
    "--data.batch_size", "8", "--data.eval_batch_size", "3", "--data.bptt", "20", "--trainer.max_epochs", "3",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
]  # fmt: skip
DDP2 = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]

# Runs the normal CLI with one extra callback that saves each rank's parameters at the end of training, and
# records at exit whether the rank's process group still lives; Lightning's launcher re-runs this same script
# for rank 1, so both ranks get both.
DUMP_PARAMS = textwrap.dedent(
    """
    import atexit, os, sys
    import pytorch_lightning as pl
    import torch
    import pipeline.trainer as tr
    from pipeline.__main__ import main

    def record_exit():  # whether this rank's process group is still alive when the interpreter exits
        name = f"exit{os.environ.get('LOCAL_RANK', '0')}.txt"
        with open(os.path.join(os.environ["PARAMS_OUT"], name), "w") as f:
            f.write(str(torch.distributed.is_initialized()))

    atexit.register(record_exit)

    class DumpParams(pl.Callback):
        def on_train_end(self, trainer, pl_module):
            state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
            torch.save(state, os.path.join(os.environ["PARAMS_OUT"], f"rank{trainer.global_rank}.pt"))

    base = tr.training_callbacks
    tr.training_callbacks = lambda *a, **k: [*base(*a, **k), DumpParams()]
    sys.exit(main(sys.argv[1:]))
    """
)


def cli_env(**extra: str) -> dict:
    """Offline, one thread per process, no SLURM variables (a test run inside a SLURM job stays local)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "PMI_"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_MODE="offline", OMP_NUM_THREADS="1",
               PYTHONPATH=str(REPO), WANDB_SILENT="true", **extra)  # fmt: skip
    return env


def start_cli(args: list[str], script: Path | None = None, **env: str) -> subprocess.Popen:
    head = [sys.executable, str(script)] if script else [sys.executable, "-m", "pipeline"]
    return subprocess.Popen(
        [*head, *args],
        cwd=REPO,
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_cli(args: list[str], script: Path | None = None, timeout: float = 240, **env: str) -> str:
    """`python -m pipeline ARGS` (or `python SCRIPT ARGS`); its output, or a failure showing the output."""
    proc = start_cli(args, script, **env)
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args[:3])} ... exited {proc.returncode}:\n{out[-4000:]}"
    return out


def evaluate_with(processes: int, ckpt: Path, split: str, out: Path, *extra: str) -> dict:
    """`evaluate` of a checkpoint with N CPU processes (DDP when N > 1); the metrics it writes as JSON.

    Works for any task's checkpoint, so a tagger's exact-metric test can use it the same way.
    """
    hardware = DDP2[:3] + [str(processes)] + (DDP2[4:] if processes > 1 else [])
    run_cli(["evaluate", str(ckpt), "--split", split, "--output", str(out), "--trainer.enable_progress_bar", "false",
             *hardware, *extra])  # fmt: skip
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("lm-corpus")
    # Sizes chosen so validation and test hold an odd number of tokens (end-of-line tokens included).
    stats = write_lm_corpus(folder, random_hmm(seed=0), {"train": 8000, "validation": 1000, "test": 1100}, 0)
    return folder, stats


@pytest.fixture(scope="module")
def ddp_run(corpus, tmp_path_factory) -> dict:
    """A 2-process fp32 training run with W&B offline, and each rank's parameters after it."""
    folder, stats = corpus
    work = tmp_path_factory.mktemp("ddp")
    script = work / "train_dump.py"
    script.write_text(DUMP_PARAMS)
    args = [*TINY_LM, *DDP2, "--data.path", str(folder), "--data.cache_dir", str(work / "cache"),
            "--runs_dir", str(work / "runs"), "--name", "ddp", "--wandb.mode", "offline"]  # fmt: skip
    out = run_cli(["train", *args], script=script, PARAMS_OUT=str(work))
    run = work / "runs" / "ddp"
    return {
        "args": args,
        "work": work,
        "run": run,
        "out": out,
        "metrics": json.loads((run / "metrics.json").read_text()),
    }


def test_ddp_training_converges_with_identical_replicas_and_one_wandb_run(ddp_run, corpus):
    _, stats = corpus
    ppl = ddp_run["metrics"]["test"]["ppl"]
    assert ppl < stats["unigram_ppl"], (ppl, stats)
    assert "global batch 16 (8 per device x 2 processes)" in ddp_run["out"]
    ranks = [torch.load(ddp_run["work"] / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys() and ranks[0]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), f"{key} differs between rank 0 and rank 1"
    runs = list((ddp_run["run"] / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs  # rank 1 never starts a W&B run
    assert (ddp_run["run"] / "wandb_id").read_text().strip() in runs[0].name
    record = next(runs[0].glob("*.wandb")).read_bytes()  # the offline run's config, JSON inside protobuf
    assert (
        b'"world_size":2' in record and b'"global_batch":16' in record and b'"precision":"32-true"' in record
    )


def test_each_rank_destroys_its_process_group_before_it_exits(ddp_run):
    """A gloo group left to interpreter exit can kill its process with SIGABRT ("terminate called without an
    active exception"): a failed exit status for a job that did its work (pipeline.trainer.end_process_group)."""
    assert [(ddp_run["work"] / f"exit{r}.txt").read_text() for r in (0, 1)] == ["False", "False"]


@pytest.mark.parametrize("split", ["validation", "test"])
def test_evaluate_gives_the_same_perplexity_with_1_and_2_processes(ddp_run, tmp_path, split):
    ckpt = ddp_run["run"] / "checkpoints" / "best.ckpt"
    cache = ["--data.cache_dir", str(ddp_run["work"] / "cache")]
    one = evaluate_with(1, ckpt, split, tmp_path / "one.json", *cache)
    two = evaluate_with(2, ckpt, split, tmp_path / "two.json", *cache)
    assert one["tokens"] == two["tokens"] and one["tokens"] % 2 == 1, (one, two)
    assert two["ppl"] == pytest.approx(one["ppl"], rel=1e-6)
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-6)


def test_bf16_mixed_reaches_fp32_perplexity(ddp_run, corpus):
    args = list(ddp_run["args"])
    args[args.index("--name") + 1] = "ddp-bf16"
    args[args.index("--wandb.mode") + 1] = "disabled"
    run_cli(["train", *args, "--trainer.precision", "bf16-mixed"])
    bf16 = json.loads((ddp_run["work"] / "runs" / "ddp-bf16" / "metrics.json").read_text())
    fp32 = ddp_run["metrics"]
    assert bf16["global_step"] == fp32["global_step"]
    assert bf16["test"]["ppl"] == pytest.approx(fp32["test"]["ppl"], rel=0.03), (bf16["test"], fp32["test"])


def test_two_processes_on_an_empty_cache_build_it_once_and_both_train(corpus, tmp_path):
    folder, _ = corpus
    cache = tmp_path / "cache"
    common = [*TINY_LM, "--data.path", str(folder), "--data.cache_dir", str(cache), "--runs_dir",
              str(tmp_path / "runs"), "--wandb.mode", "disabled", "--trainer.max_steps", "3"]  # fmt: skip
    procs = [start_cli(["train", *common, "--name", f"p{i}"]) for i in (0, 1)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    assert sum(out.count("Training a word tokenizer") for out in outs) == 1, outs
    assert len(list(cache.glob("tokenizer-*.json"))) == 1
    assert len(list(cache.glob("ids-*.npy"))) == 3
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*.tmp"))
    for i in (0, 1):
        assert json.loads((tmp_path / "runs" / f"p{i}" / "metrics.json").read_text())["global_step"] == 3


def test_torchrun_launches_the_same_training(corpus, ddp_run, tmp_path):
    """torchrun starts every rank itself (Lightning's TorchElasticEnvironment): same run, same result."""
    folder, _ = corpus
    args = [*TINY_LM, *DDP2, "--data.path", str(folder), "--data.cache_dir", str(tmp_path / "cache"),
            "--runs_dir", str(tmp_path / "runs"), "--name", "ddp", "--wandb.mode", "disabled"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "pipeline", "train", *args],
        cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "runs" / "ddp" / "metrics.json").read_text())
    assert metrics["test"]["ppl"] == pytest.approx(ddp_run["metrics"]["test"]["ppl"], rel=1e-6)
