"""Everything a `.ckpt` of this pipeline holds, and the one route that restores a model from it.

Beyond Lightning's own state (weights, optimizer, schedulers, loops, the training loader's
position), every checkpoint holds:
- `pipeline`: the format version, the task, the resolved config (YAML text) and the data's
  vocabularies as file name -> text (`RunMetadata`), so evaluate/predict/generate need nothing else;
- `rank_states`: per rank, the model's carried state (the LM's hidden state for its own streams),
  gathered to rank 0 when written and handed back to each rank on resume (`ResumeState`).
Files are written atomically and read with `weights_only=True` (`AtomicCheckpointIO`, `read`).
`open_checkpoint(path).restore()` is the one way back from a checkpoint to a data module and a
module with its weights; evaluate, predict and generate use it, and resuming reads through `read`.
"""

from __future__ import annotations

import errno
import hashlib
import pickle
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from jsonargparse import Namespace
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_warn

from data_modules.contract import TaskData
from data_modules.files import atomic_open, write_atomic
from data_modules.resumable import ResumableLoader
from pipeline import config as configs
from pipeline import folders
from pipeline.errors import PipelineError
from pipeline.tasks import TASKS, Task

FORMAT = 1


# ---- files ------------------------------------------------------------------------------------------
class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file, flushes it to disk, then renames it over the old one.

    A kill or a full disk during the write leaves the previous checkpoint intact and loadable, and
    no half-written file under a checkpoint's name. Loading goes through `read` (weights_only=True,
    readable errors), so resuming cannot run code from a checkpoint either.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        try:
            with atomic_open(path) as f:
                torch.save(checkpoint, f)
        except OSError as e:
            why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
            raise PipelineError(
                f"Could not write checkpoint '{path}': {why}. The previous checkpoint is untouched."
            ) from None

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return read(path)


def read(path: str | Path) -> dict:
    """A checkpoint of this project, loaded with `weights_only=True` so it cannot run code; an exported
    folder (pipeline/folders.py) reads as the same contents.

    Raises PipelineError for a missing, truncated or foreign file.
    """
    p = Path(path)
    if folders.is_folder(p):
        return folders.read_folder(p)
    if not p.is_file():
        raise PipelineError(f"Checkpoint '{path}' does not exist.")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise PipelineError(
            f"Checkpoint '{path}' holds objects that are not plain tensors or containers, "
            f"so it was refused (loading it could run code): {str(e).splitlines()[0]}"
        ) from None
    except Exception as e:  # a damaged zip or pickle stream fails in many ways (KeyError, EOFError, ...)
        raise PipelineError(
            f"Checkpoint '{path}' is truncated or corrupt: {str(e).splitlines()[0]}"
        ) from None
    if not isinstance(ckpt, dict) or "pipeline" not in ckpt or "state_dict" not in ckpt:
        raise PipelineError(
            f"'{path}' is not a checkpoint written by this pipeline (no 'pipeline' metadata)."
        )
    return ckpt


# ---- what the pipeline adds to every checkpoint --------------------------------------------------------
class RunMetadata(pl.Callback):
    """Puts what `evaluate`/`generate` need into every checkpoint: task, resolved config, vocabularies.

    Also writes the vocabularies into the run directory once the data is set up (rank 0 only).
    """

    def __init__(self, task: str, config_text: str, run_dir: Path | None):
        self.task, self.config_text, self.run_dir = task, config_text, run_dir

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.run_dir is not None and trainer.is_global_zero:
            for name, text in trainer.datamodule.artifacts().items():
                write_atomic(self.run_dir / name, text)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, ckpt: dict) -> None:
        ckpt["pipeline"] = {
            "format": FORMAT,
            "task": self.task,
            "config": self.config_text,
            "artifacts": trainer.datamodule.artifacts(),
        }


def seed_step(base: int, epoch: int, batch_idx: int, rank: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and Python for one training batch of one rank.

    Dropout masks then depend only on (seed, epoch, batch, rank), never on what else drew random
    numbers before the step (validation, creating loader iterators, a sanity check after a
    resume), which a saved RNG state cannot capture: the RNG state at the start of the batch after
    a checkpoint is not known when the checkpoint is written.
    """
    seed = int.from_bytes(
        hashlib.blake2b(f"{base}/{epoch}/{batch_idx}/{rank}".encode(), digest_size=8).digest(), "little"
    )
    if _accelerator_in_use():
        torch.manual_seed(seed)
    else:
        # torch.manual_seed also queues the seed for CUDA, XPU and MTIA when they are not initialised, each time
        # recording a formatted stack trace: ~2.4 ms per step, 3% of a CPU tagger step (`make bench` profile).
        torch.default_generator.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _accelerator_in_use() -> bool:
    """A device other than the CPU is initialised (a run on it has done so before its first step), or is MPS."""
    lazy = (torch.cuda, getattr(torch, "xpu", None), getattr(torch, "mtia", None))
    return any(m is not None and m.is_initialized() for m in lazy) or torch.backends.mps.is_available()


def _train_loaders(trainer: pl.Trainer) -> list[ResumableLoader]:
    loaders = trainer.train_dataloader
    flat = [] if loaders is None else loaders if isinstance(loaders, list | tuple) else [loaders]
    return [dl for dl in flat if isinstance(dl, ResumableLoader)]


class ResumeState(pl.Callback):
    """Exact resume beyond Lightning's own state: keeps the loader position current, seeds every batch,
    and saves/restores every rank's carried state (`rank_states`)."""

    def __init__(self, seed: int):
        self.seed = seed
        self.pending: dict | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for dl in _train_loaders(trainer):
            dl.set_epoch(trainer.current_epoch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        seed_step(self.seed, trainer.current_epoch, batch_idx, trainer.global_rank)
        if self.pending is not None:
            pl_module.load_carry_state(self.pending.get("carry"))
            self.pending = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for dl in _train_loaders(trainer):
            dl.mark(trainer.current_epoch, batch_idx + 1)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        mine = {"carry": pl_module.carry_state()}
        if dist.is_available() and dist.is_initialized() and trainer.world_size > 1:
            gathered: list = [None] * trainer.world_size
            dist.all_gather_object(gathered, mine)
        else:
            gathered = [mine]
        checkpoint["rank_states"] = gathered

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        states = checkpoint.get("rank_states")
        if not states:
            return
        if len(states) != trainer.world_size:
            rank_zero_warn(
                f"The checkpoint was written by {len(states)} processes and this run has {trainer.world_size}: "
                "weights, optimizer and position are restored, the per-rank LSTM hidden states are not."
            )
            return
        self.pending = states[trainer.global_rank]


# ---- the restore route ----------------------------------------------------------------------------------
@dataclass
class Saved:
    """A checkpoint of this pipeline, read safely: its task, resolved training config and contents."""

    path: str
    task: Task
    config: Namespace
    """The resolved training config as objects: config.data, config.model, config.optim, ..."""
    contents: dict

    @property
    def artifacts(self) -> dict[str, str]:
        return self.contents["pipeline"]["artifacts"]

    def restore(self, data_config=None) -> tuple[TaskData, pl.LightningModule]:
        """The data module (the checkpoint's vocabularies loaded, nothing prepared yet) and the module
        with the checkpoint's weights. `data_config` replaces the saved data settings (another copy of
        the corpus, another cache); vocabularies always come from the checkpoint."""
        dm = self.task.data_module(data_config or self.config.data)
        dm.load_artifacts(self.artifacts)
        module = self.task.build_module(self.config.model, self.config.optim, dm.model_inputs())
        missing, unexpected = module.load_state_dict(self.contents["state_dict"], strict=False)
        if missing or unexpected:
            raise PipelineError(
                f"Checkpoint '{self.path}' does not fit its own model: missing {missing[:5]}, unexpected {unexpected[:5]}."
            )
        return dm, module


def open_checkpoint(path: str, want: str | None = None, command: str = "") -> Saved:
    """Read a checkpoint and its resolved config; `want` names the task a command needs."""
    contents = read(path)
    meta = contents["pipeline"]
    task = TASKS.get(meta.get("task"))
    if task is None:
        raise PipelineError(f"Checkpoint '{path}' is for an unknown task '{meta.get('task')}'.")
    if want is not None and task.name != want:
        need = {"lm": "a language model", "tagger": "a tagger"}[want]
        raise PipelineError(f"'{path}' is a {task.name} checkpoint; {command} needs {need}.")
    return Saved(str(path), task, configs.load(task, meta["config"]), contents)
