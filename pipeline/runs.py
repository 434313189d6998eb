"""A run directory: resolved config, vocabularies, checkpoints, metrics and the W&B id, in one place.

runs/<name>/
  .pipeline-run      the marker: this folder is a run of this pipeline (task, created), so --fresh may clear it
  .lock              held by the one `train` writing the run (host and PID inside)
  config.yaml        the resolved config of the latest start
  tokenizer.json     (LM) or words.json, chars.json, tags.json (tagger)
  checkpoints/       last.ckpt, best.ckpt, step-N.ckpt
  metrics.csv        every logged value
  metrics.json       final validation and test values
  README.md          the model card (pipeline/model_card.py)
  wandb_id           so a restarted run continues the same W&B run
  wandb/             W&B's local files
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from data_modules.entries import Locked, hold
from data_modules.files import remove_stale_temporaries, write_atomic
from pipeline import checkpoints
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)
MARKER = ".pipeline-run"
# What a run directory of this pipeline may hold (a folder made before the marker existed, or by `slurm`).
RUN_FILES = ("config.yaml", "tokenizer.json", "words.json", "chars.json", "tags.json", "checkpoints",
             "metrics.csv", "metrics.json", "hparams.yaml", "wandb_id", "wandb", "job.sbatch", "slurm-*.out",
             "hpc_ckpt_*.ckpt", "README.md", ".lock", MARKER, ".*.tmp*")  # fmt: skip


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
        """The newest *loadable* checkpoint among last.ckpt, step-N.ckpt and Lightning's hpc_ckpt_N.ckpt
        (best.ckpt as a last resort, with a warning), so the same command continues where it stopped.

        A damaged newer file is skipped with a warning; a run holding checkpoints of which none loads is
        an error, never a silent fresh start that would overwrite them.
        """
        found = [self.last, *self.checkpoints.glob("step-*.ckpt"), *self.dir.glob("hpc_ckpt_*.ckpt")]
        found = sorted((p for p in found if p.is_file()), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        damaged = []
        for path in [*found, self.best] if self.best.is_file() else found:
            try:
                checkpoints.read(path)
            except PipelineError as e:
                damaged.append(str(e))
                continue
            if damaged:
                log.warning("Skipped damaged checkpoint(s): %s", " | ".join(damaged))
            if path == self.best:
                log.warning("Resuming from best.ckpt: no newer checkpoint of %s is loadable.", self.dir)
            return path
        if damaged:
            raise PipelineError(
                f"Run {self.dir} holds checkpoints but none is loadable ({damaged[0]}); "
                "start over with --fresh true or use another --name."
            )
        return None

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

    def check_artifacts(self, artifacts: dict[str, str], saved: dict[str, str] | None = None) -> None:
        """The data's vocabularies must be the run's own (a resumed model's embeddings index them): the run
        directory's files, or the resume checkpoint's (`saved`) where those files are gone."""
        saved = dict(saved or {})
        saved.update({n: (self.dir / n).read_text() for n in artifacts if (self.dir / n).is_file()})
        differ = [n for n, text in artifacts.items() if n in saved and saved[n] != text]
        if differ:
            raise PipelineError(
                f"Run {self.dir} was trained on other data: its {', '.join(differ)} differ from this data's. "
                "Start over with --fresh true, or use another --name."
            )


def default_name(task: str, config_path: str | None) -> str:
    """`conf/lm/brown.yaml` -> `lm-brown`: readable and stable, so re-running a recipe resumes it."""
    if not config_path:
        return task
    return f"{task}-{Path(config_path).stem}"


def check_name(name: str) -> str:
    """A run name is one plain path component inside runs_dir: nothing else can be deleted or written."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name.startswith("~"):
        raise PipelineError(
            f"Run name {name!r} must be a single folder name inside --runs_dir (no '/', '.', '..' or absolute path)."
        )
    return name


# Keys of a resolved config that make a run what it is: resuming with other values would continue the
# weights on other data or in another model. Data keys that only change speed or where caches live are safe.
IDENTITY = ("task", "data.", "model.")
SAFE_DATA = ("data.num_workers", "data.num_proc", "data.cache_dir", "data.eval_batch_size")


def _flat(tree: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(tree, dict):
        return {prefix[:-1]: tree}
    return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}


def check_identity(run: Run, config_text: str, checkpoint_config: str | None = None) -> None:
    """Refuse to resume a run with another task, data or model (named key by key); list the safe changes.
    The run's config.yaml is the reference, the resume checkpoint's config where that file is gone.
    Called once the data is read (its own errors are the more useful message) and before the run is written."""
    saved = run.dir / "config.yaml"
    reference = saved.read_text() if saved.is_file() else checkpoint_config
    if reference is None:
        return
    old = _flat(yaml.safe_load(reference) or {})
    new = _flat(yaml.safe_load(config_text) or {})
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    bad = [k for k in changed if k.startswith(IDENTITY) and k not in SAFE_DATA]
    if bad:
        diffs = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in bad[:6])
        raise PipelineError(
            f"Run {run.dir} was started with another task, data or model ({diffs}); nothing was changed. "
            "Start over with --fresh true, or use another --name."
        )
    if changed:
        log.info("Resuming %s with changed settings: %s", run.dir, ", ".join(changed))


def _is_run_folder(folder: Path) -> bool:
    """Holds the marker, or only what a run of this pipeline writes (a run made before the marker)."""
    if (folder / MARKER).is_file():
        return True
    names = [p.name for p in folder.iterdir()]
    return all(any(fnmatch.fnmatch(n, pat) for pat in RUN_FILES) for n in names)


def _clear(folder: Path) -> None:
    """Remove everything in a run folder but its lock (which this process holds)."""
    for p in folder.iterdir():
        if p.name == ".lock":
            continue
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def open_run(runs_dir: str, name: str, fresh: bool, task: str, stack: contextlib.ExitStack | None) -> Run:
    """The run folder, locked for this job when `stack` is given (the launching process only) and cleared
    when `fresh`. Refuses a folder that is not a run of this pipeline, and a run another process trains."""
    run = Run(Path(runs_dir) / check_name(name))
    if run.dir.exists() and not run.dir.is_dir():
        raise PipelineError(f"Run path {run.dir} exists and is not a folder.")
    if run.dir.is_dir() and not _is_run_folder(run.dir):
        raise PipelineError(
            f"{run.dir} exists but is not a run directory of this pipeline (no {MARKER} marker); "
            "nothing was changed. Use another --name or --runs_dir."
        )
    if stack is None:  # a worker process of a job whose launcher holds the lock (and clears it for --fresh)
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        return run
    try:
        run.dir.mkdir(parents=True, exist_ok=True)
        stack.enter_context(hold(run.dir / ".lock", f"Run {run.dir}", wait=False))
    except Locked as e:
        raise PipelineError(
            f"{e} Two trainings of one run would overwrite each other's checkpoints."
        ) from None
    except OSError as e:
        raise PipelineError(f"Cannot create the run directory {run.dir}: {e.strerror}.") from None
    if fresh:
        _clear(run.dir)
    remove_stale_temporaries(run.dir)
    remove_stale_temporaries(run.checkpoints)
    if not (run.dir / MARKER).is_file():
        write_atomic(run.dir / MARKER, json.dumps({"task": task, "created": time.time()}) + "\n")
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    return run
