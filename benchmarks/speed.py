"""Rows 1, 3, 4 and the bf16 half of row 5: our Lightning training step against a bare PyTorch loop.

Every repeat runs the baseline and ours back to back in this process (alternating which goes first),
with the same threads, the same model class and initial weights, and the same batches.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from benchmarks import bare, profiles, recipes
from benchmarks.clocks import FetchTimer, StepClock, TestClock
from benchmarks.harness import Row, median
from pipeline.tasks import TASKS
from pipeline.trainer import build_trainer, cpu_kernels, training_callbacks


def _trainer(
    section: dict,
    steps: int,
    warmup: int,
    precision: str,
    logdir: Path,
    extra: list,
    ema_decay: float = 0.0,
    ema_every: int = 1,
    **overrides,
) -> pl.Trainer:
    """The pipeline's Trainer (build_trainer + its training callbacks, CSV logging, progress bar on);
    `ema_decay`/`ema_every` as the recipe's training section sets them (the weight average is part of the recipe's step)."""
    kwargs = dict(
        accelerator="cpu", devices=1, max_steps=warmup + steps, max_epochs=-1, limit_val_batches=0,
        num_sanity_val_steps=0, gradient_clip_val=section.get("gradient_clip_val"), precision=precision,
        log_every_n_steps=section.get("log_every_n_steps", 50), enable_model_summary=False,
        profiler=extra[0],
    )  # fmt: skip
    kwargs.update(overrides)
    logger = CSVLogger(save_dir=str(logdir), name="", version="")
    callbacks = training_callbacks(logdir / "last.ckpt", 0, ema_decay, ema_every)
    return build_trainer(kwargs, [*callbacks, *extra[1:]], [logger], root_dir=logdir)


def ours_lm(parts, steps: int, warmup: int, logdir: Path, precision: str = "32-true", **overrides):
    """(StepClock, FetchTimer) of a Lightning fit of the LM for warmup + steps windows."""
    dm, model_cfg, optim_cfg, section = parts
    torch.manual_seed(0)
    module = TASKS["lm"].build_module(model_cfg, optim_cfg, dm.model_inputs())
    clock, fetch = StepClock(warmup), FetchTimer()
    trainer = _trainer(
        section,
        steps,
        warmup,
        precision,
        logdir,
        [fetch, clock],
        ema_decay=recipes.ema_decay(recipes.LM_RECIPE),
        ema_every=recipes.ema_every(recipes.LM_RECIPE),
        **overrides,
    )
    with cpu_kernels(trainer):  # as `train` runs it: bf16 on a CPU without a oneDNN bf16 LSTM
        trainer.fit(module, datamodule=dm)
    return clock, fetch


def bare_lm(parts, steps: int, warmup: int, backward: bool = True) -> tuple[int, float]:
    dm, model_cfg, optim_cfg, section = parts
    torch.manual_seed(0)
    model = TASKS["lm"].build_module(model_cfg, optim_cfg, dm.model_inputs()).model
    data = bare.batchify(dm.ids["train"], dm.cfg.batch_size)
    clip = section.get("gradient_clip_val") or 1e9
    return bare.lm_loop(model, data, dm.cfg.bptt, steps, warmup, optim_cfg.lr, clip, backward)


def _no_work(model: torch.nn.Module) -> torch.nn.Module:
    """The model with a loss that does no work (one weight, times the batch's mask): what is left of a step is
    the loop around it (fetching, hooks, clipping, the optimizer over one gradient)."""
    weight = next(model.parameters())
    model.loss = lambda batch: (weight.reshape(-1)[0] * 0 + 1) * batch["mask"].any()
    return model


def ours_tagger(cfgs, steps: int, warmup: int, logdir: Path, no_work: bool = False):
    data_cfg, model_cfg, optim_cfg, section = cfgs
    dm = recipes.tagger_module(data_cfg)
    torch.manual_seed(0)
    module = TASKS["tagger"].build_module(model_cfg, optim_cfg, dm.model_inputs())
    if no_work:
        _no_work(module.model)
    clock, fetch = StepClock(warmup), FetchTimer()
    trainer = _trainer(
        section,
        steps,
        warmup,
        "32-true",
        logdir,
        [fetch, clock],
        ema_decay=recipes.ema_decay(recipes.TAGGER_RECIPE),
        ema_every=recipes.ema_every(recipes.TAGGER_RECIPE),
    )
    with cpu_kernels(trainer):  # as `train` runs it: bf16 on a CPU without a oneDNN bf16 LSTM
        trainer.fit(module, datamodule=dm)
    return clock, fetch


def bare_tagger(cfgs, steps: int, warmup: int, no_work: bool = False) -> tuple[int, float]:
    data_cfg, model_cfg, optim_cfg, section = cfgs
    dm = recipes.tagger_module(data_cfg)
    batches = list(itertools.islice(iter(dm.train_dataloader()), warmup + steps))  # the same first batches
    torch.manual_seed(0)
    model = TASKS["tagger"].build_module(model_cfg, optim_cfg, dm.model_inputs()).model
    model = _no_work(model) if no_work else model
    return bare.tagger_loop(
        model, batches, steps, warmup, optim_cfg.lr, section.get("gradient_clip_val") or 1e9
    )


def _wait(clock: StepClock, fetch: FetchTimer) -> float:
    return sum(fetch.durations[-clock.steps :]) / clock.seconds


def lm_rows(
    parts, steps: int, warmup: int, repeats: int, work: Path, profile: bool, bf16_repeats: int | None = None
) -> list[Row]:
    """Rows 1 (LM), 3 and 5 (bf16): bare, ours fp32 and ours bf16-mixed, interleaved; bf16 in the first
    `bf16_repeats` repeats only (a bf16 run on a CPU without bf16 kernels takes minutes)."""
    base, ours, bf16, waits = [], [], [], []
    for r in range(repeats):
        order = ["bare", "ours", "bf16"] if r % 2 == 0 else ["bf16", "ours", "bare"]
        for which in [w for w in order if w != "bf16" or r < (bf16_repeats or repeats)]:
            if which == "bare":
                tokens, secs = bare_lm(parts, steps, warmup)
                base.append(tokens / secs)
            else:
                prec = "32-true" if which == "ours" else "bf16-mixed"
                clock, fetch = ours_lm(parts, steps, warmup, work / f"lm-{which}-{r}", prec)
                (ours if which == "ours" else bf16).append(clock.tokens / clock.seconds)
                if which == "ours":
                    waits.append(_wait(clock, fetch))
    cmd = "python -m benchmarks fast"
    over = Row("lm_train_overhead_ratio", "LM training step (Brown, 2x256 tied LSTM)", "tokens/s",
               "bare PyTorch loop", base, ours, ">= 0.95", command=cmd)  # fmt: skip
    over.met = over.ratio >= 0.95
    wait = Row("data_wait_fraction", "LM: share of step time waiting for the next batch", "fraction",
               "-", [], waits, "< 0.05", ratio=median(waits), command=cmd)  # fmt: skip
    wait.met = wait.ratio < 0.05
    prec = Row("bf16_vs_fp32_cpu_ratio", "LM training step, bf16-mixed vs 32-true on CPU", "tokens/s",
               "ours, 32-true", ours[: len(bf16)], bf16, "reported", command=cmd)  # fmt: skip
    if profile and not over.met:
        over.limits = profiles.overhead(
            lambda: ours_lm(parts, steps // 2, warmup, work / "lm-profile"),
            lambda: bare_lm(parts, steps // 2, warmup),
        )
    if profile and not wait.met:
        wait.limits = profiles.top(lambda: [parts[0].train_dataloader().dataset[k] for k in range(steps)])
    return [over, wait, prec]


def tagger_rows(cfgs, steps: int, warmup: int, repeats: int, work: Path, profile: bool) -> list[Row]:
    base, ours, waits = [], [], []
    for r in range(repeats):
        for which in ("bare", "ours") if r % 2 == 0 else ("ours", "bare"):
            if which == "bare":
                tokens, secs = bare_tagger(cfgs, steps, warmup)
                base.append(tokens / secs)
            else:
                clock, fetch = ours_tagger(cfgs, steps, warmup, work / f"tagger-{r}")
                ours.append(clock.tokens / clock.seconds)
                waits.append(_wait(clock, fetch))
    cmd = "python -m benchmarks fast"
    over = Row("tagger_train_overhead_ratio", "Tagger training step (CoNLL-2003, BiLSTM-CNN-CRF)", "tokens/s",
               "bare PyTorch loop", base, ours, ">= 0.95", command=cmd)  # fmt: skip
    over.met = over.ratio >= 0.95
    wait = Row("tagger_data_wait_fraction", "Tagger: share of step time waiting for the next batch", "fraction",
               "-", [], waits, "< 0.05", ratio=median(waits), command=cmd)  # fmt: skip
    wait.met = wait.ratio < 0.05
    if profile and not over.met:
        over.limits = fixed_cost(cfgs, steps, warmup, work, median(ours), median(base)) + profiles.overhead(
            lambda: ours_tagger(cfgs, steps // 2, warmup, work / "tagger-profile"),
            lambda: bare_tagger(cfgs, steps // 2, warmup),
        )
    if profile and not wait.met:
        dm = recipes.tagger_module(cfgs[0])
        wait.limits = profiles.top(lambda: list(itertools.islice(iter(dm.train_dataloader()), steps)))
    return [over, wait]


def fixed_cost(cfgs, steps: int, warmup: int, work: Path, ours_rate: float, bare_rate: float) -> str:
    """The per-step cost of the loop around the model, ours against the bare loop's, measured with a model that
    does no work (3 interleaved repeats, medians), next to the real steps' times."""
    tokens, _ = bare_tagger(cfgs, steps, warmup, no_work=True)  # tokens are the same in every run
    ms = {"ours": [], "bare": [], "fetch": []}
    for r in range(3):
        for which in ("bare", "ours") if r % 2 == 0 else ("ours", "bare"):
            if which == "bare":
                ms["bare"].append(bare_tagger(cfgs, steps, warmup, no_work=True)[1] / steps * 1e3)
            else:
                clock, fetch = ours_tagger(cfgs, steps, warmup, work / f"tagger-no-work-{r}", no_work=True)
                ms["ours"].append(clock.seconds / clock.steps * 1e3)
                ms["fetch"].append(_wait(clock, fetch) * ms["ours"][-1])
    ours, bare_ms, fetch = (median(ms[k]) for k in ("ours", "bare", "fetch"))
    real_ours, real_bare = tokens / steps / ours_rate * 1e3, tokens / steps / bare_rate * 1e3
    return (
        f"with a model that does no work (a loss of one weight; the same batches, hooks, clipping and optimizer) a "
        f"step takes {ours:.2f} ms in ours and {bare_ms:.2f} ms in the bare loop: {ours - bare_ms:.2f} ms more a step "
        f"(of it {fetch:.2f} ms building the batch, which the bare loop has prebuilt), against real steps of "
        f"{real_ours:.1f} and {real_bare:.1f} ms ({real_ours - real_bare:.2f} ms apart). This fixed cost is "
        f"Lightning's training loop and our callbacks; the target leaves {real_bare * (1 / 0.95 - 1):.2f} ms. "
    )


def eval_row(parts, steps: int, warmup: int, repeats: int, batches: int | None = None) -> Row:
    """Row 4: `trainer.test` (what `evaluate` runs; the first `batches` windows, None = whole split) vs the
    training forward pass (train mode, autograd on, no backward)."""
    dm, model_cfg, optim_cfg, _ = parts
    fwd, ev = [], []
    for r in range(repeats):
        for which in ("fwd", "eval") if r % 2 == 0 else ("eval", "fwd"):
            if which == "fwd":
                tokens, secs = bare_lm(parts, steps, warmup, backward=False)
                fwd.append(tokens / secs)
            else:
                torch.manual_seed(0)
                module = TASKS["lm"].build_module(model_cfg, optim_cfg, dm.model_inputs())
                clock = TestClock()
                kwargs = dict(accelerator="cpu", devices=1, precision="32-true", enable_model_summary=False,
                              limit_test_batches=batches or 1.0)  # fmt: skip
                build_trainer(kwargs, [clock]).test(module, datamodule=dm, verbose=False)
                ev.append(module.last_result["test"]["tokens"] / clock.seconds)
    return Row("eval_vs_train_forward_ratio",
               f"LM evaluate (trainer.test, {dm.cfg.eval_batch_size} streams) vs training forward "
               f"({dm.cfg.batch_size} streams)", "tokens/s", "training forward pass", fwd, ev, "reported",
               command="python -m benchmarks fast")  # fmt: skip
