"""`python -m pipeline slurm` scripts, and a training that SLURM's warning signal checkpoints, requeues and resumes.

The signal test sets the variables srun would set (so Lightning sees a SLURM job) and puts a stub
`scontrol` on PATH that records its arguments.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from data_modules.synthetic import random_hmm, write_lm_corpus
from pipeline.commands import slurm
from pipeline.errors import PipelineError

REPO = Path(__file__).resolve().parents[1]
SLURM_ENV = {
    "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "lm-test", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1",
    "SLURM_NNODES": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
    "SLURM_NODELIST": "localhost",
}  # fmt: skip


def write_script(tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "job.sbatch"
    slurm.main([
        "--config", str(REPO / "conf/lm/brown.yaml"), "--config", str(REPO / "conf/trainer/slurm.yaml"),
        "--nodes", "2", "--gpus-per-node", "4", "--time", "24:00:00", "--partition", "gpu", "--account", "proj",
        "--runs-dir", str(tmp_path / "runs"), "--output", str(out), *extra,
    ])  # fmt: skip
    return out.read_text()


def test_script_is_valid_bash_with_srun_signal_and_requeue(tmp_path):
    text = write_script(tmp_path, "--", "--data.path", "/shared/brown", "--trainer.max_epochs", "2")
    subprocess.run(["bash", "-n", str(tmp_path / "job.sbatch")], check=True)
    sbatch = [line for line in text.splitlines() if line.startswith("#SBATCH")]
    for want in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--time=24:00:00", "--partition=gpu",
                 "--account=proj", "--signal=SIGUSR1@120", "--requeue", "--open-mode=append"):  # fmt: skip
        assert f"#SBATCH {want}" in sbatch, want
    assert any(line.startswith("#SBATCH --output=") and "lm-brown" in line for line in sbatch)
    assert (tmp_path / "runs" / "lm-brown").is_dir()  # SLURM does not create the log's folder
    # #SBATCH lines are read only before the first command.
    first_command = next(i for i, line in enumerate(text.splitlines()) if line and not line.startswith("#"))
    assert all(text.splitlines().index(line) < first_command for line in sbatch)
    assert "export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1" in text
    srun = [line for line in text.splitlines() if line.startswith("srun ")]
    assert len(srun) == 1
    for want in ("-m pipeline train", "--name lm-brown", "--trainer.num_nodes 2", "--trainer.devices 4",
                 "--trainer.strategy ddp", "--data.path /shared/brown", "--trainer.max_epochs 2"):  # fmt: skip
        assert want in srun[0], want


@pytest.mark.parametrize(
    "extra, message",
    [(["--time", "1 day"], "not a SLURM time"), (["--", "--fresh", "true"], "--fresh"),
     (["--", "--trainer.max_epochz", "3"], "max_epochz")],
)  # fmt: skip
def test_bad_requests_fail_before_submission(tmp_path, extra, message):
    with pytest.raises(PipelineError, match=message):
        write_script(tmp_path, *extra)


def train_args(tmp_path: Path, corpus: Path) -> list[str]:
    return [
        sys.executable, "-m", "pipeline", "train", "--config", "conf/lm/demo.yaml",
        "--data.path", str(corpus), "--data.cache_dir", str(tmp_path / "cache"),
        "--runs_dir", str(tmp_path / "runs"), "--name", "preempted", "--wandb.mode", "disabled",
        "--model.embedding_size", "16", "--model.hidden_size", "16", "--data.batch_size", "4", "--data.bptt", "10",
        "--trainer.max_epochs", "100", "--trainer.max_steps", "150", "--trainer.log_every_n_steps", "1",
        "--checkpoint.every_n_train_steps", "3", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
    ]  # fmt: skip


def csv_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def test_sigusr1_checkpoints_requeues_and_the_same_command_resumes(tmp_path):
    corpus = tmp_path / "corpus"
    write_lm_corpus(corpus, random_hmm(seed=1), {"train": 4000, "validation": 300, "test": 300}, 0)
    stub = tmp_path / "bin" / "scontrol"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(SLURM_ENV, PATH=f"{stub.parent}{os.pathsep}{env['PATH']}", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))  # fmt: skip
    cmd = train_args(tmp_path, corpus)
    run = tmp_path / "runs" / "preempted"

    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while not list(run.glob("checkpoints/step-*.ckpt")):  # training is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGUSR1, out[-3000:]
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert 3 <= saved < 150
    assert f"stopped at step {saved}" in out

    rows_before = len(csv_rows(run / "metrics.csv"))
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert f"resuming from {run / 'checkpoints' / 'last.ckpt'}" in again.stdout + again.stderr
    rows = csv_rows(run / "metrics.csv")[rows_before:]
    steps = [int(r["step"]) for r in rows if r.get("train/loss")]
    assert steps[0] == saved, steps[:5]  # the first step after the restart is the one after the checkpoint
    assert json.loads((run / "metrics.json").read_text())["global_step"] == 150
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]  # not requeued again
