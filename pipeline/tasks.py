"""The two tasks, as the pipeline sees them: which config types, data module and model each uses."""

from __future__ import annotations

from dataclasses import dataclass

from data_modules.lm_data import LMDataConfig, LMDataModule
from data_modules.tagging_data import TaggingDataConfig, TaggingDataModule
from models.lm_module import LanguageModel
from models.lstm_lm import LMConfig
from models.optim import OptimConfig
from models.tagger import TaggerConfig
from models.tagger_module import SequenceTagger


@dataclass(frozen=True)
class Task:
    name: str
    data_config: type
    data_module: type
    model_config: type
    module: type
    optim_config: type
    headline: tuple[str, ...]
    """Metric names (without split prefix) printed by evaluate and written to metrics.json."""


TASKS = {
    "lm": Task("lm", LMDataConfig, LMDataModule, LMConfig, LanguageModel, OptimConfig,
               ("tokens", "loss", "bits", "ppl")),
    "tagger": Task("tagger", TaggingDataConfig, TaggingDataModule, TaggerConfig, SequenceTagger, OptimConfig,
                   ("f1", "precision", "recall", "accuracy")),
}  # fmt: skip
