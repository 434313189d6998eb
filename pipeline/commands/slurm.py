"""`python -m pipeline slurm`: writes an sbatch script for a multi-node DDP run that requeues itself on time-out.

    python -m pipeline slurm --config conf/lm/brown.yaml --config conf/trainer/slurm.yaml \\
        --nodes 2 --gpus-per-node 4 --time 24:00:00 --partition gpu --account proj -- --data.path /shared/brown
    sbatch runs/lm-brown/job.sbatch

The script runs `srun python -m pipeline train ... --name NAME` with one task per GPU (Lightning reads
the ranks from srun's SLURM_* variables) and asks SLURM for SIGUSR1 some seconds before the time
limit, sent to every task (`--signal=SIGUSR1@N`, without `B:`, which would signal the batch shell only).
On that signal the run checkpoints at the next step boundary, requeues the job and stops
(`pipeline/stops.py: SlurmRequeue`); the requeued job runs the same script, whose `train` command finds
runs/NAME/ and resumes it (no new arguments).

Compute nodes often have no internet: run `python -m pipeline prepare --config ...` on a login node
first; the script exports HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1. torchrun works as well, e.g.
`torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m pipeline train
--config ... --trainer.num_nodes 2 --trainer.devices 4 --trainer.strategy ddp` (Lightning then uses
its TorchElasticEnvironment; there is no requeue outside SLURM).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from datetime import datetime
from pathlib import Path

from data_modules.files import write_atomic
from pipeline import config as configs
from pipeline.errors import PipelineError
from pipeline.paths import check_output
from pipeline.runs import check_name, default_name
from pipeline.tasks import TASKS

TIME = re.compile(r"^\d+(-\d{1,2}(:\d{1,2}){0,2}|(:\d{1,2}){0,2})$")  # SLURM's --time formats


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise PipelineError(f"{message} (see `python -m pipeline slurm --help`).")


def parser() -> Parser:
    p = Parser(prog="python -m pipeline slurm", description="Write an sbatch script that trains a recipe with DDP.",
               epilog="Arguments after `--` go to `train` unchanged (e.g. -- --data.path /shared/brown).")  # fmt: skip
    p.add_argument("--config", action="append", required=True, help="Recipe (and profile) YAMLs, in order.")
    p.add_argument("--nodes", type=int, default=1, help="Nodes of the job.")
    p.add_argument("--gpus-per-node", "--gpus_per_node", type=int, default=1, help="GPUs = tasks per node.")
    p.add_argument(
        "--time", default="24:00:00", help="Time limit in SLURM's format (HH:MM:SS, D-HH:MM, ...)."
    )
    p.add_argument("--partition", default=None, help="SLURM partition.")
    p.add_argument("--account", default=None, help="SLURM account to charge.")
    p.add_argument("--qos", default=None, help="SLURM quality of service.")
    p.add_argument("--cpus-per-task", "--cpus_per_task", type=int, default=8, help="CPU cores per GPU task.")
    p.add_argument(
        "--mem", default=None, help="Memory per node (e.g. 200G); the partition's default if unset."
    )
    p.add_argument("--signal-seconds", "--signal_seconds", type=int, default=120,
                   help="Seconds before the time limit at which SIGUSR1 asks the run to checkpoint and requeue.")  # fmt: skip
    p.add_argument(
        "--name", default=None, help="Run name (default: from the first config, as `train` names it)."
    )
    p.add_argument("--runs-dir", "--runs_dir", default="runs", help="Parent folder of run directories.")
    p.add_argument(
        "--python", default=sys.executable, help="Python of the compute nodes (default: this one)."
    )
    p.add_argument("--output", default=None, help="Script path (default: <runs_dir>/<name>/job.sbatch).")
    p.add_argument("--verbose", action="store_true", help="Show tracebacks for errors.")
    return p


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    if "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1 :]
    return args, []


def train_command(opts: argparse.Namespace, name: str, extra: list[str]) -> list[str]:
    configs_args = [a for c in opts.config for a in ("--config", c)]
    return [
        opts.python, "-m", "pipeline", "train", *configs_args, "--name", name, "--runs_dir", opts.runs_dir,
        "--trainer.num_nodes", str(opts.nodes), "--trainer.devices", str(opts.gpus_per_node),
        "--trainer.strategy", "ddp", "--trainer.accelerator", "gpu", *extra,
    ]  # fmt: skip


def script(opts: argparse.Namespace, name: str, command: list[str], prepare: list[str], log: Path) -> str:
    sbatch = {
        "job-name": name, "nodes": opts.nodes, "ntasks-per-node": opts.gpus_per_node,
        "gpus-per-node": opts.gpus_per_node, "cpus-per-task": opts.cpus_per_task, "mem": opts.mem,
        "time": opts.time, "partition": opts.partition, "account": opts.account, "qos": opts.qos,
        "signal": f"SIGUSR1@{opts.signal_seconds}", "requeue": True, "open-mode": "append", "output": log,
    }  # fmt: skip
    lines = [
        "#!/bin/bash",
        f"# Written by `python -m pipeline slurm` on {datetime.now():%Y-%m-%d %H:%M}. Submit: sbatch {opts.output}",
        "# Prepare the data on a login node first (compute nodes run offline):",
        f"#   {shlex.join(prepare)}",
        "# SIGUSR1 reaches every task before the time limit: the run writes last.ckpt, requeues the job and",
        "# stops; the requeued job runs this script again and the same command resumes runs/NAME.",
    ]
    lines += [
        f"#SBATCH --{k}" if v is True else f"#SBATCH --{k}={v}" for k, v in sbatch.items() if v is not None
    ]
    lines += [
        "",
        "set -euo pipefail",
        f"cd {shlex.quote(os.getcwd())}",
        "export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1",
        "export PYTHONUNBUFFERED=1",
        "# export WANDB_MODE=offline  # compute nodes without internet: `wandb sync` the run later",
        "",
        "srun " + shlex.join(command),
        "",
    ]
    return "\n".join(lines)


def main(args: list[str]) -> Path:
    own, extra = split_args(args)
    opts = parser().parse_args(own)
    if not TIME.match(opts.time):
        raise PipelineError(f"--time '{opts.time}' is not a SLURM time (HH:MM:SS, MM, D-HH:MM, ...).")
    if opts.nodes < 1 or opts.gpus_per_node < 1:
        raise PipelineError("--nodes and --gpus-per-node must be at least 1.")
    if any(a == "--fresh" or a.startswith("--fresh=") for a in extra):
        raise PipelineError(
            "--fresh cannot go in a job script: every requeue would delete the run it resumes."
        )
    configs_args = [a for c in opts.config for a in ("--config", c)]
    task = TASKS[configs.peek_task(configs_args + extra)]
    name = opts.name or default_name(task.name, opts.config[0])
    command = train_command(opts, name, extra)
    # A bad key fails now, not hours later in the queue.
    configs.parse(configs.train_parser(task), command[4:])
    run_dir = Path(opts.runs_dir) / check_name(name)
    opts.output = opts.output or str(run_dir / "job.sbatch")
    check_output(opts.output, [*opts.config], "--output")
    run_dir.mkdir(parents=True, exist_ok=True)  # SLURM does not create the log's folder
    prepare = [opts.python, "-m", "pipeline", "prepare", *configs_args, *extra]
    text = script(opts, name, command, prepare, (run_dir / "slurm-%j.out").absolute())
    write_atomic(opts.output, text)
    print(
        f"Wrote {opts.output} ({opts.nodes} node(s) x {opts.gpus_per_node} GPU(s)); submit with: sbatch {opts.output}"
    )
    return Path(opts.output)
