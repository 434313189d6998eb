"""Loggers: the CSV record always, W&B online when credentials exist and offline otherwise."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_info

from pipeline.config import WandbConfig
from pipeline.runs import Run


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


def build_loggers(cfg: WandbConfig, run: Run, name: str, config: dict) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(save_dir=str(run.dir), name="", version="")]
    mode = wandb_mode(cfg)
    if mode == "disabled":
        rank_zero_info("W&B: disabled; metrics go to the run's metrics.csv only.")
        return loggers
    why = (
        "credentials found"
        if mode == "online"
        else "no credentials (or WANDB_MODE=offline); sync later with `wandb sync`"
    )
    rank_zero_info(f"W&B: {mode} ({why}); run id {run.wandb_id()} in {run.dir}/wandb")
    loggers.append(
        WandbLogger(
            project=cfg.project,
            entity=cfg.entity,
            name=name,
            id=run.wandb_id(),
            resume="allow",
            save_dir=str(run.dir),
            offline=mode == "offline",
            tags=cfg.tags or None,
            config=config,
        )
    )
    return loggers
