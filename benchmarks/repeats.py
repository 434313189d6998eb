"""How many interleaved repeats the LM (or tagger) overhead row needs before its answer is out of the noise.

The fast suite's `lm_train_overhead_ratio` (3 repeats) read 0.907 in one committed run and 0.958 in a quiet rerun.
Here the bare loop and ours alternate, one pair per repeat, exactly as that row measures them (same steps, warmup,
threads and recipe). After each repeat from the third on it reports the baseline's spread ((max - min) / median),
the gap between ours and the baseline (1 - ratio of medians), and a 95% bootstrap interval of the ratio (2,000
resamples of each side). It stops when the interval excludes the row's target (more repeats would then not
change which side of the target the row lands on), or at `--max-repeats`. The raw spread does not shrink with
more repeats (its extremes only widen); the interval of the median does, so it is the stop rule.

    python -m benchmarks repeats --data ../shared/data --max-repeats 15
    python -m benchmarks repeats --data ../shared/data --row tagger --max-repeats 30   # the tagger row
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from benchmarks import recipes, report, speed
from benchmarks.harness import machine, median, set_threads

TARGET = 0.95


def interval(
    base: list[float], ours: list[float], resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% bootstrap interval of median(ours) / median(base), each side resampled with replacement."""
    rng = random.Random(seed)
    ratios = sorted(
        median(rng.choices(ours, k=len(ours))) / median(rng.choices(base, k=len(base)))
        for _ in range(resamples)
    )
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def paired_interval(
    base: list[float], ours: list[float], resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Median of the per-repeat ratios ours[i] / base[i] and its 95% bootstrap interval (repeats resampled as
    pairs: both runs of a repeat ran back to back, so a slow spell of the machine slows both and cancels)."""
    ratios = [o / b for o, b in zip(ours, base)]
    rng = random.Random(seed)
    boot = sorted(median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples))
    return median(ratios), boot[int(0.025 * resamples)], boot[int(0.975 * resamples) - 1]


def settled(base: list[float], ours: list[float]) -> dict:
    """The study's figures after these samples; `done` when the stop rule holds."""
    ratio = median(ours) / median(base)
    spread = (max(base) - min(base)) / median(base)
    low, high = interval(base, ours)
    gap = 1 - ratio
    done = len(base) >= 3 and not low <= TARGET <= high
    paired, paired_low, paired_high = paired_interval(base, ours)
    return {
        "paired": paired,
        "paired_low": paired_low,
        "paired_high": paired_high,
        "repeats": len(base),
        "ratio": ratio,
        "spread": spread,
        "gap": gap,
        "low": low,
        "high": high,
        "done": done,
    }


def _spread_below_gap(line: str) -> bool:
    cells = [c.strip() for c in line.split("|")[1:-1]]
    return int(cells[0]) >= 3 and float(cells[4]) < abs(float(cells[5]))


def _runners(a, work: Path):
    """(bare, ours) for the studied row, each a function of the repeat returning tokens/s, as the fast suite runs
    them (same steps, warmup and recipe)."""
    root = Path(a.data).resolve()
    if a.row == "tagger":
        parts, steps = recipes.tagger(root, work / "cache"), a.tagger_steps
        recipes.tagger_module(parts[0])  # the cache, outside the timed runs
        bare_run, ours_run = speed.bare_tagger, speed.ours_tagger
    else:
        parts, steps = recipes.lm_module(root, work / "cache"), a.lm_steps
        bare_run, ours_run = speed.bare_lm, speed.ours_lm

    def bare(r: int) -> float:
        tokens, secs = bare_run(parts, steps, a.warmup)
        return tokens / secs

    def ours(r: int) -> float:
        clock, _ = ours_run(parts, steps, a.warmup, work / f"{a.row}-{r}")
        return clock.tokens / clock.seconds

    return bare, ours


def main(a) -> None:
    set_threads(a.threads)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="bench-repeats-", dir=a.work))
    run_bare, run_ours = _runners(a, work)
    started, base, ours, lines = time.perf_counter(), [], [], []
    for r in range(a.max_repeats):
        for which in ("bare", "ours") if r % 2 == 0 else ("ours", "bare"):
            (base if which == "bare" else ours).append((run_bare if which == "bare" else run_ours)(r))
        s = settled(base, ours)
        lines.append(
            f"| {s['repeats']} | {base[-1]:,.0f} | {ours[-1]:,.0f} | {s['ratio']:.3f} | {s['spread']:.3f} | "
            f"{s['gap']:.3f} | {s['low']:.3f} - {s['high']:.3f} | {s['paired']:.3f} ({s['paired_low']:.3f} - "
            f"{s['paired_high']:.3f}) |"
        )
        print(lines[-1], flush=True)
        if s["done"]:
            break
    minutes = (time.perf_counter() - started) / 60
    verdict = (
        f"Settled after **{s['repeats']} repeats**: ratio {s['ratio']:.3f}, 95% interval {s['low']:.3f} - "
        f"{s['high']:.3f}, {'above' if s['low'] > TARGET else 'below'} the target {TARGET}."
        if s["done"]
        else f"**Not settled after {s['repeats']} repeats** (the limit): ratio {s['ratio']:.3f}, 95% interval "
        f"{s['low']:.3f} - {s['high']:.3f}, baseline spread {s['spread']:.3f} against a gap of {s['gap']:.3f}."
    )
    side = (
        "above" if s["paired_low"] > TARGET else "below" if s["paired_high"] < TARGET else "on either side of"
    )
    verdict += (
        f" Paired by repeat, the median ratio is {s['paired']:.3f}, 95% interval {s['paired_low']:.3f} - "
        f"{s['paired_high']:.3f}: {side} the target."
    )
    below = next((int(line.split("|")[1]) for line in lines if _spread_below_gap(line)), None)
    verdict += (
        f" The baseline's spread was first below the gap at repeat {below}."
        if below
        else " The baseline's spread never fell below the gap."
    )
    steps = f"--tagger-steps {a.tagger_steps}" if a.row == "tagger" else f"--lm-steps {a.lm_steps}"
    name = "Tagger" if a.row == "tagger" else "LM"
    text = "\n\n".join(
        [
            f"## {name} row repeat study (`python -m benchmarks repeats --row {a.row}`)",
            f"Command: `python -m benchmarks repeats --data {a.data} --row {a.row} --max-repeats {a.max_repeats} "
            f"{steps} --warmup {a.warmup} --threads {a.threads}`; took {minutes:.1f} minutes. One bare and one "
            f"ours run per repeat (the fast suite's {name} row, alternating which goes first); baseline spread = "
            "(max - min) / median of the bare samples, gap = 1 - ratio; stop when the 95% bootstrap interval of the "
            f"ratio excludes {TARGET}. The last column pairs each repeat's two runs: the median of their ratios, "
            "with its own bootstrap interval (reported, not the stop rule).",
            report.machine_table(info),
            "| repeats | bare tokens/s (this repeat) | ours tokens/s (this repeat) | ratio of medians | baseline spread "
            "| gap | 95% interval | paired: median ratio (95% interval) |\n|---|---|---|---|---|---|---|---|\n"
            + "\n".join(lines),
            verdict,
        ]
    )
    report.write_section("repeats" if a.row == "lm" else "repeats_tagger", text, Path(a.md))
