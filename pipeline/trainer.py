"""The Trainer, its strategy and everything distributed: the only module that knows about ranks.

Data modules shard themselves when told to (`ShardData`), so Lightning's DistributedSampler,
which pads evaluation sets by repeating samples, is switched off here for every task.
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, WeightAveraging
from pytorch_lightning.loggers import Logger
from pytorch_lightning.profilers import PassThroughProfiler
from pytorch_lightning.utilities import rank_zero_warn

from data_modules.contract import TaskData
from pipeline.callbacks import CpuThreads, ProgressBar, ShardData, TokensPerSecond
from pipeline.checkpoints import AtomicCheckpointIO, ResumeState
from pipeline.errors import PipelineError
from pipeline.finite_loss import FiniteLoss
from pipeline.moving_average import MovingAverage
from pipeline.stops import GracefulStop, SlurmRequeue


def build_trainer(
    trainer_kwargs: dict,
    callbacks: list[Callback] | None = None,
    loggers: list[Logger] | bool = False,
    root_dir: Path | None = None,
    checkpointing: bool = False,
) -> pl.Trainer:
    kwargs = resolve_precision(dict(trainer_kwargs))
    if kwargs.get("deterministic") in (True, "true", "warn"):
        # cuBLAS is deterministic only with a fixed workspace; set before any CUDA work and before DDP
        # workers start (they inherit the environment).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if kwargs.get("profiler") is None:
        kwargs["profiler"] = QuietProfiler()
    callbacks = [ShardData(), CpuThreads(), *(callbacks or [])]
    if kwargs.get("enable_progress_bar", True):
        callbacks.append(ProgressBar(leave=True))
    try:
        return _trainer(kwargs, callbacks, loggers, root_dir, checkpointing)
    except MisconfigurationException as e:
        raise PipelineError(f"The trainer settings are not usable: {' '.join(str(e).split())}") from None


class QuietProfiler(PassThroughProfiler):
    """Lightning's default (no profiling) with one shared no-op context: Lightning enters `profile()` around every
    hook it calls, ~70 times a training step, and the stock one builds a generator-based context each time."""

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:
        return _NOTHING


_NOTHING = contextlib.nullcontext()


def _trainer(kwargs, callbacks, loggers, root_dir, checkpointing) -> pl.Trainer:
    return pl.Trainer(
        **kwargs,
        plugins=[AtomicCheckpointIO()],
        callbacks=callbacks,
        logger=loggers,
        default_root_dir=str(root_dir) if root_dir else None,
        enable_checkpointing=checkpointing,
        use_distributed_sampler=False,
    )


def checkpoint_callbacks(
    dirpath: Path, monitor: str, mode: str, every_n_steps: int | None, every_minutes: float | None, keep: int
) -> list[Callback]:
    """best.ckpt by the monitored metric and last.ckpt after every validation; optionally, periodic
    `step-NNNNNNNN.ckpt` files by steps or wall time (the newest `keep` kept), each also refreshing last.ckpt."""
    best = ModelCheckpoint(
        dirpath=dirpath, filename="best", monitor=monitor, mode=mode, save_top_k=1,
        enable_version_counter=False, auto_insert_metric_name=False,
    )  # fmt: skip
    # last.ckpt has its own unmonitored callback: since Lightning 2.6 `save_last=True` refreshes last.ckpt only
    # when its own callback also saved at that step, so a run whose metric stopped improving kept a last.ckpt
    # from its best validation, and a killed run resumed from there instead of from its newest validation.
    last = ModelCheckpoint(
        dirpath=dirpath, filename="last", monitor=None, save_top_k=1,
        enable_version_counter=False, auto_insert_metric_name=False,
    )  # fmt: skip
    if not (every_n_steps or every_minutes):
        return [best, last]
    periodic = ModelCheckpoint(
        dirpath=dirpath, filename="step-{step:08d}", monitor="step", mode="max", save_top_k=keep,
        save_last=True, enable_version_counter=False, auto_insert_metric_name=False,
        every_n_train_steps=every_n_steps,
        train_time_interval=timedelta(minutes=every_minutes) if every_minutes and not every_n_steps else None,
    )  # fmt: skip
    return [best, last, periodic]


def weight_average(decay: float, every: int = 1) -> MovingAverage | None:
    """The EMA of the weights, updated every `every` optimizer steps (the first after step 1) with
    decay**every, so the average forgets at the same rate per step (warmed up early on: MovingAverage);
    None when decay is 0."""
    return MovingAverage(decay, every) if decay > 0 else None


def training_callbacks(last: Path, seed: int, ema_decay: float = 0.0, ema_every: int = 1) -> list[Callback]:
    """Per-run callbacks of `train`: exact resume, clean stops on signals, finite losses, throughput,
    and optionally a moving average of the weights (`weight_average`)."""
    # Lightning's WeightAveraging (MovingAverage's base) swaps the average in for validation and writes it
    # as the checkpoint's state_dict (the live weights go to "current_model_state" for resuming), so every checkpoint
    # reader gets the averaged model without knowing about it. It comes before the stop callbacks:
    # a stop checkpoint written at a step boundary must already hold that step's average update.
    average = [a] if (a := weight_average(ema_decay, ema_every)) else []
    return [
        ResumeState(seed),
        *average,
        GracefulStop(last),
        SlurmRequeue(last),
        FiniteLoss(),
        TokensPerSecond(),
    ]


def stop_weight_averaging(trainer: pl.Trainer) -> None:
    """After fit, a checkpoint's state_dict (the average) is the model to score, as `evaluate` does.

    Lightning's averaging callback, still attached, would reload a checkpoint's *live* weights
    ("current_model_state") into the module on `trainer.test(ckpt_path=...)`, and it swaps the average
    back in only for validation, not for test: the final test would score the live weights.
    """
    trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, WeightAveraging)]


def resolve_precision(kwargs: dict) -> dict:
    """bf16 needs an Ampere or newer GPU; on older ones bf16-mixed becomes 16-mixed (fp16 + gradient scaling)."""
    precision = str(kwargs.get("precision", "32-true"))
    on_gpu = kwargs.get("accelerator") in (None, "auto", "gpu", "cuda") and torch.cuda.is_available()
    if (
        on_gpu
        and precision.startswith("bf16")
        and not torch.cuda.is_bf16_supported(including_emulation=False)
    ):
        fallback = "16-mixed" if precision == "bf16-mixed" else "16-true"
        rank_zero_warn(f"{torch.cuda.get_device_name()} has no bf16 support: precision {precision} -> {fallback} "
                       "(fp16 with gradient scaling).")  # fmt: skip
        return {**kwargs, "precision": fallback}
    return kwargs


def cpu_bf16_lstm_works() -> bool:
    """Whether this CPU's oneDNN build runs an LSTM under bf16 autocast (CPUs without bf16 instructions,
    e.g. many AMD EPYCs, fail with "could not create a primitive descriptor")."""
    lstm = torch.nn.LSTM(2, 2)
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(1, 1, 2))
    except RuntimeError:
        return False
    return True


def cpu_kernels(trainer: pl.Trainer) -> contextlib.AbstractContextManager:
    """The kernels a run needs: bf16 on a CPU whose oneDNN has no bf16 LSTM runs PyTorch's own LSTM kernel
    (in fp32 inside autocast) instead of failing; the setting is undone when the run ends."""
    bf16 = str(trainer.precision).startswith("bf16")
    if bf16 and trainer.strategy.root_device.type == "cpu" and not cpu_bf16_lstm_works():
        rank_zero_warn(
            "This CPU's oneDNN has no bf16 LSTM kernel: the LSTMs run in fp32 under bf16 autocast."
        )
        return torch.backends.mkldnn.flags(enabled=False)
    return contextlib.nullcontext()


def prepare_and_setup(dm: TaskData) -> None:
    """`prepare_data`, then `setup`: every rank ends with the same vocabularies. Each cache entry is built
    under its own lock by whichever process comes first (data_modules/entries.py), across ranks and nodes
    on a shared filesystem; a whole entry is read without a lock.

    Once per process: the data modules keep what they set up, so Lightning's fit/validate/test calling
    `prepare_data`/`setup` again find it done.
    """
    dm.prepare_data()
    dm.setup("fit")


def launch_rank() -> int:
    """This process's global rank as the launcher set it (0 when not launched as a worker).

    Known before the Trainer exists, so work that must happen once per job (deleting a run for
    --fresh) can run on rank 0 only: Lightning's own launcher re-runs the command in each worker.
    """
    for var in ("RANK", "SLURM_PROCID", "PMI_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    node, local = os.environ.get("NODE_RANK", "0"), os.environ.get("LOCAL_RANK", "0")
    return int(local) if node in ("", "0") else int(node) * 1000 + int(local)


def end_process_group() -> None:
    """Destroy the job's process group once a command has succeeded on this rank (or stopped on every rank at
    once: `CollectiveStop`).

    Lightning leaves it alive for the next fit/test. At interpreter exit gloo's worker threads may still hold
    work objects whose destruction needs the interpreter, and the process then dies of SIGABRT ("terminate
    called without an active exception"), about one DDP predict in six here: a failed exit status for a job
    that did its work (or, after a non-finite loss, an exit status -6 instead of 2). Not after another error:
    other ranks may be inside a collective, and the destroy would hang.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
