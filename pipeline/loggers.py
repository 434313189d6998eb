"""Loggers: the CSV record always, W&B online when credentials exist and offline otherwise."""

from __future__ import annotations

import csv
import netrc
import os
from pathlib import Path

import pytorch_lightning as pl
from lightning_fabric.loggers.csv_logs import _ExperimentWriter
from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_info

from pipeline.config import WandbConfig
from pipeline.runs import Run
from pipeline.stops import Stopped
from pipeline.trainer import launch_rank


def has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        rc = netrc.netrc(os.environ.get("NETRC", str(Path.home() / ".netrc")))
    except (FileNotFoundError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in rc.hosts)


def wandb_mode(cfg: WandbConfig) -> str:
    """The mode the run will use; an explicit WANDB_MODE in the environment wins over `auto`."""
    if cfg.mode != "auto":
        return cfg.mode
    env = os.environ.get("WANDB_MODE")
    if env in ("online", "offline", "disabled", "dryrun"):
        return "offline" if env == "dryrun" else env
    return "online" if has_wandb_credentials() else "offline"


class _ContinuedWriter(_ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv; a resumed run keeps the rows logged
    before its checkpoint and drops those logged after it (they are logged again, identically)."""

    def __init__(self, log_dir: str, resume_step: int | None):
        self.resume_step = resume_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if self.resume_step is None or not path.is_file():
            path.unlink(missing_ok=True)
            return
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if r.get("step", "").isdigit() and int(r["step"]) < self.resume_step]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = keys


class RunCSVLogger(CSVLogger):
    """metrics.csv in the run directory, continued across resumes."""

    def __init__(self, run_dir: Path, resume_step: int | None):
        super().__init__(save_dir=str(run_dir), name="", version="")
        self.resume_step = resume_step

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        # Rows up to a checkpoint are on disk with it: a resume after a hard kill loses none of them.
        self.save()

    @property
    @rank_zero_experiment
    def experiment(self) -> _ExperimentWriter:
        if self._experiment is None:
            self._experiment = _ContinuedWriter(self.log_dir, self.resume_step)
        return self._experiment


def resume_step(checkpoint: dict) -> int:
    """The logging step a checkpoint was taken at (Lightning logs against batches that stepped)."""
    loop = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_loop.state_dict", {})
    return int(loop.get("_batches_that_stepped", checkpoint.get("global_step", 0)))


def build_loggers(
    cfg: WandbConfig, run: Run, name: str, config: dict, resume_from: int | None = None
) -> list[Logger]:
    loggers: list[Logger] = [RunCSVLogger(run.dir, resume_from)]
    mode = wandb_mode(cfg)
    if mode == "disabled":
        rank_zero_info("W&B: disabled; metrics go to the run's metrics.csv only.")
        return loggers
    why = (
        "credentials found"
        if mode == "online"
        else "no credentials (or WANDB_MODE=offline); sync later with `wandb sync`"
    )
    # Only rank 0 ever starts the W&B run; under srun/torchrun all ranks start at once, and letting
    # each create the id file would race and could give a restart another W&B run.
    run_id = run.wandb_id() if launch_rank() == 0 else None
    rank_zero_info(f"W&B: {mode} ({why}); run id {run_id} in {run.dir}/wandb")
    logger = WandbLogger(
        project=cfg.project,
        entity=cfg.entity,
        name=name,
        id=run_id,
        resume="allow",
        save_dir=str(run.dir),
        offline=mode == "offline",
        tags=cfg.tags or None,
        config=config,
    )
    # Lightning passes `anonymous=None` to `wandb.init` whatever it is given, and wandb (0.19 and later) answers
    # with "WARNING The anonymous setting has no effect" on every run. None is wandb's default: dropping it
    # changes nothing but the console.
    if logger._wandb_init.get("anonymous") is None:
        logger._wandb_init.pop("anonymous", None)
    loggers.append(logger)
    return loggers


def log_run_facts(loggers: list[Logger], trainer: pl.Trainer, global_batch: int) -> dict:
    """World size, precision and global batch into the W&B run's config (rank 0 only: one W&B run per job)."""
    facts = {
        "world_size": trainer.world_size,
        "num_nodes": trainer.num_nodes,
        "devices_per_node": trainer.num_devices,
        "precision": str(trainer.precision),
        "global_batch": global_batch,
    }
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_hyperparams({"distributed": facts})  # rank_zero_only inside Lightning
    return facts


def finish(loggers: list[Logger], error: BaseException | None = None) -> None:
    """Close the W&B run, also when training ended in an error or a stop.

    Another `train` in the same process (the demo runs two) must start its own, and a W&B service shared
    with a parent process would otherwise keep the run's stream open, so the resumed run that reuses
    its id would be refused ("run ID ... is in use"). A stop on a signal is marked as preempted, which
    is what W&B shows for a run that will resume.
    """
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            run = logger.experiment
            if isinstance(error, Stopped):
                run.mark_preempting()
            run.finish(exit_code=getattr(error, "exit_code", 1) if error is not None else 0)


def log_model(loggers: list[Logger], which: str | bool, run: Run, step: int, metrics: dict) -> None:
    """The chosen checkpoint and the model card as the W&B model artifact `model-<run id>`, aliased `best` (when
    it is best.ckpt), `latest` and `step-N`. An offline run records it; `wandb sync` uploads it later."""
    if which is False:
        return
    import wandb

    ckpt = run.best if which == "best" and run.best.is_file() else run.last
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            meta = {
                "step": step,
                "checkpoint": ckpt.name,
                "val": metrics.get("val"),
                "test": metrics.get("test"),
            }
            artifact = wandb.Artifact(f"model-{logger.experiment.id}", type="model", metadata=meta)
            artifact.add_file(str(ckpt), name=ckpt.name)
            if (run.dir / "README.md").is_file():
                artifact.add_file(str(run.dir / "README.md"), name="README.md")
            aliases = [*(["best"] if ckpt == run.best else []), "latest", f"step-{step}"]
            logger.experiment.log_artifact(artifact, aliases=aliases)
