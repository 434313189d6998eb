"""A run directory: resolved config, vocabularies, checkpoints, metrics and the W&B id, in one place.

runs/<name>/
  config.yaml        the resolved config of the latest start
  tokenizer.json     (LM) or words.json, chars.json, tags.json (tagger)
  checkpoints/       last.ckpt, best.ckpt
  metrics.csv        every logged value
  metrics.json       final validation and test values
  wandb_id           so a restarted run continues the same W&B run
  wandb/             W&B's local files
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from data_modules.files import write_atomic


@dataclass
class Run:
    dir: Path

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.ckpt"

    def resume_path(self) -> Path | None:
        """The newest of last.ckpt and Lightning's hpc_ckpt_N.ckpt, so the same command continues.

        Lightning writes hpc_ckpt_N.ckpt into the run directory (its default_root_dir) when SLURM
        sends the requeue signal; that one is newer than last.ckpt unless training went on after it.
        """
        found = [p for p in (self.last, *self.dir.glob("hpc_ckpt_*.ckpt")) if p.is_file()]
        return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None

    def wandb_id(self) -> str:
        """The run's W&B id, created on first use and kept for every restart."""
        path = self.dir / "wandb_id"
        if path.is_file():
            return path.read_text().strip()
        run_id = uuid.uuid4().hex[:8]  # W&B's own id format: 8 lowercase alphanumerics
        write_atomic(path, run_id + "\n")
        return run_id

    def write_metrics(self, metrics: dict) -> None:
        write_atomic(self.dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def default_name(task: str, config_path: str | None) -> str:
    """`conf/lm/brown.yaml` -> `lm-brown`: readable and stable, so re-running a recipe resumes it."""
    if not config_path:
        return task
    return f"{task}-{Path(config_path).stem}"


def open_run(runs_dir: str, name: str, fresh: bool) -> Run:
    run = Run(Path(runs_dir) / name)
    if fresh and run.dir.exists():
        shutil.rmtree(run.dir)
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    return run
