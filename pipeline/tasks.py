"""The task registry: per task its configs, data module, Lightning module, headline metrics, and how
the module is built from the data module's declared model inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pytorch_lightning as pl

from data_modules.contract import LMInputs, TaggerInputs
from data_modules.lm.config import LMDataConfig
from data_modules.lm.datamodule import LMDataModule
from data_modules.tagging.config import TaggingDataConfig
from data_modules.tagging.datamodule import TaggingDataModule
from models.lm_lit_module import LMLitModule
from models.lstm_lm import LMConfig
from models.optim import OptimConfig
from models.tagger import TaggerConfig
from models.tagger_lit_module import TaggerLitModule


class TaskModule(Protocol):
    """What the pipeline reads from a task's LightningModule besides Lightning's hooks."""

    monitor: str
    """The validation metric best.ckpt and the plateau schedule follow."""
    monitor_mode: str
    """'min' or 'max' for `monitor`."""
    last_result: dict[str, dict[str, float]]
    """Per stage ('val', 'test'), the metrics of its last epoch, exact (float64) and complete (per type too)."""

    def carry_state(self) -> list | None:
        """State carried from one training batch to the next (the LM's hidden state), for exact resume."""

    def load_carry_state(self, state: list | None) -> None: ...


def build_lm(model: LMConfig, optim: OptimConfig, inputs: LMInputs) -> LMLitModule:
    return LMLitModule(model=model, optim=optim, vocab_size=inputs.vocab_size)


def build_tagger(model: TaggerConfig, optim: OptimConfig, inputs: TaggerInputs) -> TaggerLitModule:
    return TaggerLitModule(
        model=model, optim=optim,
        word_vocab_size=inputs.word_vocab_size, char_vocab_size=inputs.char_vocab_size,
        train_tags=list(inputs.train_tags), corpus_tags=list(inputs.corpus_tags),
        train_scheme=inputs.train_scheme, corpus_scheme=inputs.corpus_scheme,
        unk_id=inputs.unk_id, num_case_classes=inputs.num_case_classes, word_vectors=inputs.word_vectors,
        lm_specs=list(inputs.lm_specs),
    )  # fmt: skip


@dataclass(frozen=True)
class Task:
    name: str
    data_config: type
    data_module: type
    model_config: type
    optim_config: type
    build: Callable[..., pl.LightningModule]
    """(model config, optim config, the data module's model_inputs()) -> the task's LightningModule."""
    headline: tuple[str, ...]
    """Metric names (without split prefix) printed by evaluate and written to metrics.json."""

    def build_module(self, model, optim, inputs) -> pl.LightningModule:
        return self.build(model, optim, inputs)


TASKS = {
    "lm": Task("lm", LMDataConfig, LMDataModule, LMConfig, OptimConfig, build_lm,
               ("tokens", "loss", "bits", "ppl")),
    "tagger": Task("tagger", TaggingDataConfig, TaggingDataModule, TaggerConfig, OptimConfig, build_tagger,
                   ("f1", "precision", "recall", "accuracy")),
}  # fmt: skip
