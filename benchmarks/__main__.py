"""`python -m benchmarks fast|quality|gpu [options]`; `prepare-worker` and `ddp-worker` are its child processes."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import ROOT_RESULTS, machine, merge_results, row_figures, set_threads


def fast(a: argparse.Namespace) -> None:
    from benchmarks import ddp, prepare, recipes, report, speed

    set_threads(a.threads)
    info = machine()
    info["load average (1 min) at start"] = f"{os.getloadavg()[0]:.2f}"
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=a.work))
    data = Path(a.data).resolve()
    started, rows = time.perf_counter(), []
    profile = not a.no_profile
    lm_parts = recipes.lm_module(data, work / "cache")
    if "lm" not in a.skip:
        rows += speed.lm_rows(lm_parts, a.lm_steps, a.warmup, a.train_repeats, work, profile, a.repeats)
    if "tagger" not in a.skip:
        cfgs = recipes.tagger(data, work / "cache")
        recipes.tagger_module(cfgs[0])  # build the cache outside the timed runs
        rows += speed.tagger_rows(cfgs, a.tagger_steps, a.warmup, a.tagger_repeats, work, profile)
    if "eval" not in a.skip:
        rows.append(speed.eval_row(lm_parts, a.lm_steps, a.warmup, a.repeats, a.eval_batches))
    if "prepare" not in a.skip:
        rows += prepare.speed_rows(data, a.large_mb, a.repeats, work, profile)
    if "large" not in a.skip and a.large_mb > 0:
        rows += prepare.large_rows(data, a.large_mb, a.repeats, work)
    if "ddp" not in a.skip:
        rows += ddp.rows(data, work / "cache", a.ddp_steps, a.warmup, a.repeats, a.threads, work)
    if "softmax" not in a.skip:
        from benchmarks import softmax

        rows += softmax.rows(a.softmax_steps, a.warmup, a.repeats, a.softmax_vocab)
    minutes = (time.perf_counter() - started) / 60
    info["load average (1 min) at end"] = f"{os.getloadavg()[0]:.2f}"
    results = Path(a.results)
    merge_results(results, row_figures(rows))
    report.ratio_plot(rows, Path(a.plots) / "fast_ratios.png")
    params = (f"--repeats {a.repeats} --train-repeats {a.train_repeats} --tagger-repeats {a.tagger_repeats} "
              f"--lm-steps {a.lm_steps} "
              f"--tagger-steps {a.tagger_steps} --warmup {a.warmup} "
              f"--eval-batches {a.eval_batches} --ddp-steps {a.ddp_steps} --large-mb {a.large_mb} "
              f"--softmax-steps {a.softmax_steps} --softmax-vocab {a.softmax_vocab} --threads {a.threads}")  # fmt: skip
    text = "\n\n".join([
        "## Fast suite (`make bench`)",
        f"Command: `python -m benchmarks fast --data {a.data} {params}` (what `make bench` runs); "
        f"took {minutes:.1f} minutes. Steps are counted after {a.warmup} warmup steps; torch threads "
        f"{a.threads} for ours and every baseline.",
        report.machine_table(info),
        report.rows_table(rows),
        "![fast suite figures](benchmarks/fast_ratios.png)",
        "### Details\n\n" + report.details(rows),
    ])  # fmt: skip
    report.write_section("fast", text, Path(a.md))
    print(f"fast suite: {len(rows)} rows in {minutes:.1f} min -> {a.md}, {results}")


def quality(a: argparse.Namespace) -> None:
    from benchmarks import quality as q

    q.main(a)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("fast", "quality"):
        s = sub.add_parser(name)
        s.add_argument(
            "--data", default="../shared/data", help="Root of brown/, conll2003/, tinyshakespeare/."
        )
        s.add_argument("--md", default="BENCHMARKS.md")
        s.add_argument("--results", default=str(ROOT_RESULTS))
        s.add_argument("--plots", default=str(ROOT_RESULTS.parent), help="Folder of the PNG plots.")
        s.add_argument("--work", default=None, help="Scratch folder (default: the system temp dir).")
        s.add_argument("--threads", type=int, default=os.cpu_count() or 1)
        s.add_argument("--repeats", type=int, default=3)
    f = sub.choices["fast"]
    f.add_argument("--lm-steps", type=int, default=30, help="Timed LM windows per repeat.")
    f.add_argument("--tagger-steps", type=int, default=60, help="Timed tagger batches per repeat.")
    f.add_argument(
        "--train-repeats",
        type=int,
        default=8,
        help="Repeats of the LM training-step row: 8 settle it (`make bench-repeats`); "
        "the bf16 runs take the first --repeats only.",
    )
    f.add_argument(
        "--tagger-repeats",
        type=int,
        default=22,
        help="Repeats of the tagger training-step row: 22 settle it (`make bench-repeats ARGS='--row tagger'`).",
    )
    f.add_argument("--warmup", type=int, default=3, help="Untimed steps before each timed run.")
    f.add_argument("--eval-batches", type=int, default=40, help="Test windows per evaluate run (0 = all).")
    f.add_argument("--ddp-steps", type=int, default=15, help="Timed LM windows per DDP run.")
    f.add_argument(
        "--large-mb",
        type=float,
        default=100,
        help="Size of the generated corpus of the prepare rows (vs naive, from cache, peak RSS).",
    )
    f.add_argument("--softmax-steps", type=int, default=10, help="Timed steps per adaptive/full softmax run.")
    f.add_argument(
        "--softmax-vocab", type=int, default=100_000, help="Vocabulary of the softmax row's corpus."
    )
    f.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["lm", "tagger", "eval", "prepare", "large", "ddp", "softmax"],
    )
    f.add_argument("--no-profile", action="store_true", help="No profile for missed targets.")
    qp = sub.choices["quality"]
    qp.add_argument("--rows", nargs="*", default=["shakespeare", "brown", "conll", "conll_lm", "large"],
                    choices=["shakespeare", "brown", "conll", "conll_lm", "large"])  # fmt: skip
    qp.add_argument("--shakespeare-minutes", type=float, default=3.0)
    qp.add_argument("--brown-minutes", type=float, default=15.0)
    qp.add_argument("--conll-minutes", type=float, default=28.0, help="The recipe's own budget.")
    qp.add_argument(
        "--conll-lm-minutes", type=float, default=75.0, help="Total budget of each conll_lm route."
    )
    qp.add_argument(
        "--lm-minutes", type=float, default=25.0, help="conll_lm: training budget of each char LM."
    )
    qp.add_argument("--large-mb", type=float, default=1024, help="Generated corpus for the peak-RSS row.")
    qp.add_argument("--conll-lm-result", default=None,
                    help="conll_lm: the result.json of a finished `python -m benchmarks.quality_lm` run, not a new run.")  # fmt: skip
    g = sub.add_parser("gpu", help="One-command GPU check (see benchmarks/gpu_check.py).")
    g.add_argument(
        "--data", default=None, help="Root of brown/ and conll2003/ (default: generated stand-ins)."
    )
    g.add_argument("--out", default="benchmarks/gpu", help="Folder of report.md and figures.json.")
    g.add_argument("--work", default=None, help="Scratch folder (default: a new temp dir).")
    g.add_argument("--repeats", type=int, default=2, help="Interleaved repeats of ours and the bare loop.")
    g.add_argument("--steps", type=int, default=60, help="Timed steps per run.")
    g.add_argument("--warmup", type=int, default=10, help="Untimed steps before them.")
    g.add_argument("--dry-run", action="store_true", help="Tiny sizes on the CPU: a rehearsal of the script.")
    g.add_argument(
        "--models", nargs="*", default=None, help="Throughput rows to run (default: all), e.g. lm-2x1500."
    )
    g.add_argument(
        "--precisions", nargs="*", default=None, help="Precisions to run (default: all this device has)."
    )
    g.add_argument("--throughput-only", action="store_true", help="Skip the CRF, exactness and DDP checks.")
    g.add_argument(
        "--syncs-only",
        action="store_true",
        help="Only where ours waits for the device (no throughput, no checks).",
    )
    rp = sub.add_parser(
        "repeats", help="How many repeats the LM or tagger overhead row needs (see benchmarks/repeats.py)."
    )
    rp.add_argument("--data", default="../shared/data", help="Root of brown/ and conll2003/.")
    rp.add_argument("--row", choices=["lm", "tagger"], default="lm", help="The training-step row studied.")
    rp.add_argument(
        "--tagger-steps", type=int, default=60, help="Timed tagger batches per run (as `make bench`)."
    )
    rp.add_argument("--max-repeats", type=int, default=15)
    rp.add_argument("--lm-steps", type=int, default=30, help="Timed LM windows per run (as `make bench`).")
    rp.add_argument("--warmup", type=int, default=3)
    rp.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    rp.add_argument("--md", default="BENCHMARKS.md")
    rp.add_argument("--work", default=None, help="Scratch folder (default: the system temp dir).")
    pe = sub.add_parser("peers", help="flair next to ours on CoNLL-2003 (see benchmarks/peers.py).")
    pe.add_argument("--data", default="../shared/data", help="Root of conll2003/.")
    pe.add_argument("--flair-python", required=True, help="The Python of flair's own environment.")
    pe.add_argument("--minutes", type=float, default=20.0, help="Wall budget of each side.")
    pe.add_argument("--threads", type=int, default=1, help="Threads of each side.")
    pe.add_argument("--sequential", action="store_true", help="One after the other (default: both at once).")
    pe.add_argument("--md", default="BENCHMARKS.md")
    pe.add_argument("--results", default=str(ROOT_RESULTS))
    pe.add_argument("--work", default=None, help="Scratch folder (default: benchmarks/out/peers).")
    w = sub.add_parser("prepare-worker")
    w.add_argument("--impl", choices=["ours", "naive"], required=True)
    w.add_argument("--cache", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--train", required=True)
    w.add_argument("--valid", required=True)
    w.add_argument("--test", required=True)
    w.add_argument("--profile", action="store_true")
    w.add_argument("--num-proc", type=int, default=None, help="Default: ours' default (the cores).")
    d = sub.add_parser("ddp-worker")
    for k in ("--devices", "--steps", "--warmup", "--threads"):
        d.add_argument(k, type=int, required=True)
    for k in ("--data", "--cache", "--out"):
        d.add_argument(k, required=True)
    a = p.parse_args(argv)
    from pipeline.__main__ import quiet_libraries

    quiet_libraries()  # the run's log holds the figures, not the libraries' tips
    if getattr(a, "work", None):  # a scratch folder named on the command line need not exist yet
        Path(a.work).mkdir(parents=True, exist_ok=True)
    if a.cmd == "fast":
        fast(a)
    elif a.cmd == "quality":
        quality(a)
    elif a.cmd == "gpu":
        from benchmarks import gpu_check

        sys.exit(gpu_check.main(a))
    elif a.cmd == "repeats":
        from benchmarks import repeats

        repeats.main(a)
    elif a.cmd == "peers":
        from benchmarks import peers

        peers.main(a)
    elif a.cmd == "prepare-worker":
        from benchmarks import prepare

        files = {"train": a.train, "validation": a.valid, "test": a.test}
        prepare.worker(a.impl, files, a.cache, a.out, a.profile, a.num_proc)
    else:
        from benchmarks import ddp

        ddp.worker(a.devices, a.steps, a.warmup, Path(a.data), Path(a.cache), Path(a.out), a.threads)


if __name__ == "__main__":
    main(sys.argv[1:])
