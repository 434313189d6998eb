"""The contract between the pipeline and a task's data module, declared once.

The pipeline drives every task's data module through `TaskData` (no probing for optional
methods), and builds the task's model from the `model_inputs()` it declares: what the data
decides about the model (vocabulary sizes, tag sets, the unknown-word id), never config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor


@dataclass(frozen=True)
class LMInputs:
    """What a language model needs from its data."""

    vocab_size: int
    """Entries of the tokenizer's vocabulary (the softmax size)."""


@dataclass(frozen=True)
class TaggerInputs:
    """What a tagger needs from its data."""

    word_vocab_size: int
    """Entries of the word vocabulary, padding and <unk> included."""
    char_vocab_size: int
    """Entries of the character vocabulary, padding and <unk> included."""
    train_tags: tuple[str, ...]
    """Tag names the model predicts (the training scheme), by id."""
    corpus_tags: tuple[str, ...]
    """Tag names of the corpus (its own scheme), by id: what metrics and predictions are reported in."""
    train_scheme: str
    """Tag scheme of `train_tags` (one of tag_schemes.SCHEMES, or none)."""
    corpus_scheme: str
    """Tag scheme of `corpus_tags`."""
    unk_id: int
    """Word id of <unk>, which word dropout substitutes."""
    num_case_classes: int
    """Casing classes of the case feature, padding (0) included."""
    word_vectors: Tensor | None = None
    """(word_vocab_size, D) pretrained embeddings, or None."""
    lm_specs: tuple[dict, ...] = ()
    """Language models whose states are word features (models/lm_features.LMEmbedder specs), in order."""


@runtime_checkable
class TaskData(Protocol):
    """What `pipeline/` calls on a task's LightningDataModule, besides Lightning's own hooks.

    `prepare_data` and `setup` are idempotent within a process: the pipeline prepares once to size
    the model, and Lightning's fit/validate/test calling them again costs nothing.
    """

    cache_dir: str
    """Folder of the prepared-data cache (the pipeline holds a lock on it while preparing)."""
    pin_memory: bool
    """Serve batches in page-locked memory (the pipeline sets it on CUDA devices, where it makes the copies to
    the GPU asynchronous)."""

    def prepare_data(self) -> None: ...

    def setup(self, stage: str | None = None) -> None: ...

    def set_shard(self, rank: int, world_size: int) -> None:
        """Which share of the data this process reads (the only place ranks reach the data)."""

    def only(self, split: str) -> None:
        """Read this split alone (`evaluate`, after `load_artifacts`): a corpus that has only that split (a user's
        file, `--data.test_files my.txt`) is scored, and no other split is tokenized or checked."""

    def artifacts(self) -> dict[str, str]:
        """Vocabularies as file name -> text: written to the run directory and into every checkpoint."""

    def load_artifacts(self, artifacts: dict[str, str]) -> None:
        """Use saved vocabularies (a checkpoint's) instead of building them from the training split."""

    def model_inputs(self) -> LMInputs | TaggerInputs:
        """What the model is built from (after `setup`)."""

    def fingerprint(self) -> str:
        """Name of the prepared data's cache entry: a hash of the source's content and of every setting that
        changes the prepared data (the same corpus prepared the same way gives the same name)."""

    def summary(self) -> dict[str, int]:
        """A few counts that describe the prepared data (printed by `prepare`)."""
