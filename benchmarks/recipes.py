"""The benchmarked configurations, read from the recipes in conf/ so that we measure what users run."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import yaml

from data_modules.lm.config import LMDataConfig
from data_modules.lm.datamodule import LMDataModule
from data_modules.tagging.config import TaggingDataConfig
from data_modules.tagging.datamodule import TaggingDataModule
from models.lstm_lm import LMConfig
from models.optim import OptimConfig
from models.tagger import TaggerConfig
from pipeline.config import TrainingConfig

ROOT = Path(__file__).resolve().parent.parent
LM_RECIPE = ROOT / "conf/lm/brown.yaml"
TAGGER_RECIPE = ROOT / "conf/tagger/conll2003.yaml"


def _only(cls: type, values: dict) -> object:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in (values or {}).items() if k in names})


def recipe(path: Path) -> dict:
    """The YAML as a dict; an absent recipe (e.g. on an old checkout) means the config defaults."""
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def ema_decay(path: Path) -> float:
    """The recipe's weight average (`training.ema_decay`), part of the step users run."""
    return float((recipe(path).get("training") or {}).get("ema_decay", 0.0))


def ema_every(path: Path) -> int:
    """How often the recipe's weight average is updated (`training.ema_every_n_steps`, else the default)."""
    default = TrainingConfig.ema_every_n_steps
    return int((recipe(path).get("training") or {}).get("ema_every_n_steps", default))


def lm(
    data_root: Path, cache_dir: Path, **data_overrides
) -> tuple[LMDataConfig, LMConfig, OptimConfig, dict]:
    """conf/lm/brown.yaml on `data_root`/brown: data, model, optim configs and the trainer section."""
    r = recipe(LM_RECIPE)
    data = {
        **r.get("data", {}),
        "path": str(data_root / "brown"),
        "cache_dir": str(cache_dir),
        **data_overrides,
    }
    return (
        _only(LMDataConfig, data),
        _only(LMConfig, r.get("model")),
        _only(OptimConfig, r.get("optim")),
        (r.get("trainer") or {}),
    )


def lm_module(data_root: Path, cache_dir: Path, **data_overrides):
    data_cfg, model_cfg, optim_cfg, trainer = lm(data_root, cache_dir, **data_overrides)
    dm = LMDataModule(data_cfg)
    dm.prepare_data()
    dm.setup("fit")
    return dm, model_cfg, optim_cfg, trainer


def tagger(data_root: Path, cache_dir: Path) -> tuple[TaggingDataConfig, TaggerConfig, OptimConfig, dict]:
    """conf/tagger/conll2003.yaml (TaggerConfig defaults when absent) on `data_root`/conll2003."""
    r = recipe(TAGGER_RECIPE)
    data = {**r.get("data", {}), "path": str(data_root / "conll2003"), "cache_dir": str(cache_dir)}
    optim = r.get("optim") or {"name": "adam", "lr": 0.002}
    return (
        _only(TaggingDataConfig, data),
        _only(TaggerConfig, r.get("model")),
        _only(OptimConfig, optim),
        r.get("trainer") or {"gradient_clip_val": 5.0},
    )


def tagger_module(data_cfg: TaggingDataConfig) -> TaggingDataModule:
    """A fresh data module (its training sampler starts at epoch 0), set up from the cache."""
    dm = TaggingDataModule(data_cfg)
    dm.prepare_data()
    dm.setup("fit")
    return dm
