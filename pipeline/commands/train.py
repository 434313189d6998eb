"""`python -m pipeline train`: a recipe and overrides in, a run directory with checkpoints and metrics out."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import replace
from pathlib import Path

import pytorch_lightning as pl
import yaml
from pytorch_lightning.utilities import rank_zero_info

from data_modules.files import write_atomic
from models.optim import OptimConfig
from pipeline import checkpoints, lm_embeddings, model_card, paths, report
from pipeline import config as configs
from pipeline.checkpoints import RunMetadata
from pipeline.early_stopping import early_stopping
from pipeline.loggers import build_loggers, finish, log_model, log_run_facts, resume_step
from pipeline.runs import check_identity, check_name, default_name, open_run
from pipeline.tasks import TASKS
from pipeline.trainer import (
    build_trainer,
    checkpoint_callbacks,
    cpu_kernels,
    launch_rank,
    prepare_and_setup,
    stop_weight_averaging,
    training_callbacks,
)


def main(args: list[str]) -> dict:
    with contextlib.ExitStack() as stack:  # holds the run's lock until the command ends
        return train(args, stack)


def train(args: list[str], stack: contextlib.ExitStack) -> dict:
    started = time.monotonic()
    task = TASKS[configs.peek_task(args)]
    parser = configs.train_parser(task)
    raw = configs.parse(parser, args)
    config_path = str(raw.config[0]) if raw.get("config") else None
    text = configs.dump(parser, raw)
    cfg = configs.instantiate(parser, raw)
    name = cfg.name or default_name(task.name, config_path)
    first = launch_rank() == 0
    run_dir = Path(cfg.runs_dir) / check_name(name)
    paths.refuse_writing_reads(run_dir, [config_path, *paths.read_paths(cfg.data)], "the run directory")
    run = open_run(cfg.runs_dir, name, cfg.fresh, task.name, stack if first else None)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    dm = task.data_module(cfg.data)
    prepare_and_setup(dm)
    lm_states = lm_embeddings.read_lms(dm, cfg.model)
    resume = None if cfg.fresh else run.resume_path()
    contents = checkpoints.read(resume) if resume else None
    saved = contents["pipeline"] if contents else {}
    if not cfg.fresh:  # before anything of the run is written: config.yaml, vocabularies, checkpoints
        check_identity(run, text, saved.get("config"))
    run.check_artifacts(dm.artifacts(), saved.get("artifacts"))
    module = task.build_module(cfg.model, cfg.optim, dm.model_inputs())
    lm_embeddings.attach(dm, module, lm_states)
    start_step = resume_step(contents) if contents else None
    fingerprint = model_card.data_fingerprint(dm)
    loggers = build_loggers(
        cfg.wandb, run, name, yaml.safe_load(text) | {"data_fingerprint": fingerprint}, start_step
    )
    callbacks = [
        *checkpoint_callbacks(run.checkpoints, module.monitor, module.monitor_mode,
                              cfg.checkpoint.every_n_train_steps, cfg.checkpoint.every_minutes, cfg.checkpoint.keep),
        RunMetadata(task.name, text, run.dir),
        *training_callbacks(run.last, cfg.seed, cfg.training.ema_decay, cfg.training.ema_every_n_steps),
        *early_stopping(cfg.early_stopping, module.monitor, module.monitor_mode),
    ]  # fmt: skip
    trainer = build_trainer(raw.trainer.as_dict(), callbacks, loggers, run.dir, checkpointing=True)
    # Known only once the Trainer knows the world size; the module reads it in configure_optimizers, at fit time.
    module.optim_cfg = scaled_optim(cfg.optim, cfg.lr_scaling, trainer)
    log_run_facts(loggers, trainer, global_batch(cfg, trainer))
    if trainer.is_global_zero:
        write_atomic(run.dir / "config.yaml", text)
    rank_zero_info(
        f"Run {run.dir}: {'resuming from ' + str(resume) if resume else 'starting'}; "
        f"global batch {global_batch(cfg, trainer)} ({cfg.data.batch_size} per device x {trainer.world_size} processes)"
    )
    try:
        with cpu_kernels(trainer):
            trainer.fit(module, datamodule=dm, ckpt_path=str(resume) if resume else None, weights_only=True)
            best = str(run.best) if run.best.is_file() else None
            stop_weight_averaging(trainer)
            trainer.validate(module, datamodule=dm, ckpt_path=best, verbose=False, weights_only=True)
            val = report.nest(module.last_result["val"])
            trainer.test(module, datamodule=dm, ckpt_path=best, verbose=False, weights_only=True)
            test = report.nest(module.last_result["test"])
    except BaseException as error:
        finish(loggers, error)
        raise
    metrics = {
        "run": name, "task": task.name, "checkpoint": best or str(run.last),
        "global_step": trainer.global_step, "epochs": trainer.current_epoch,
        "val": val, "test": test,
    }  # fmt: skip
    if trainer.is_global_zero:
        run.write_metrics(metrics)
        facts = {"checkpoint": metrics["checkpoint"], "data fingerprint": fingerprint,
                 "hardware": model_card.hardware(trainer), "steps": str(trainer.global_step),
                 "wall time": f"{time.monotonic() - started:.0f} s (this start of the run)"}  # fmt: skip
        model_card.write(run.dir, name, task.name, text, {"val": val, "test": test}, facts)
        try:
            log_model(loggers, cfg.wandb.log_model, run, trainer.global_step, metrics)
        except BaseException as error:
            finish(loggers, error)
            raise
    finish(loggers)
    if trainer.is_global_zero:
        report.print_result("validation", val, task)
        report.print_result("test", test, task)
    return metrics


def global_batch(cfg, trainer: pl.Trainer) -> int:
    return cfg.data.batch_size * trainer.world_size * (trainer.accumulate_grad_batches or 1)


def scaled_optim(optim: OptimConfig, scaling: str, trainer: pl.Trainer) -> OptimConfig:
    """The optimizer settings with the learning rate scaled by the number of processes (the per-device batch
    is the base); `optim` itself is left as the recipe gave it."""
    if scaling == "none":
        return optim
    factor = trainer.world_size * (trainer.accumulate_grad_batches or 1)
    lr = optim.lr * (factor if scaling == "linear" else math.sqrt(factor))
    rank_zero_info(f"Learning rate scaled ({scaling}) by {factor}: {lr:g}")
    return replace(optim, lr=lr)
