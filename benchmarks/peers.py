"""`python -m benchmarks peers` (`make bench-peers`): our CoNLL-2003 tagger next to flair 0.15's SequenceTagger
with the same architecture (benchmarks/peers_flair.py), trained side by side for the same wall budget with the
same threads each, from the same files, cold (no cache either side). flair runs in its own virtual environment
(`--flair-python`); it is never a dependency of this project.

Rows: seconds per training epoch (validation excluded; median over the epochs), flair's over ours (target
>= 3), and the dev F1 margin: ours minus flair's at every moment at which either has a figure (a side with
no evaluation yet counts 0), its smallest value over the budget (target > 0: ahead at every equal time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks.harness import Row, machine, median, merge_results, row_figures

ROOT = Path(__file__).resolve().parent.parent


def latest(points: list[dict], t: float) -> float:
    """The dev F1 of the newest evaluation at or before `t` seconds; 0 before the first."""
    done = [p["dev_f1"] for p in points if p["seconds"] <= t]
    return done[-1] if done else 0.0


def margin(ours: list[dict], flair: list[dict], budget_s: float) -> tuple[float, float]:
    """(smallest ours - flair dev F1 over every moment either side reports within the budget, at which second)."""
    moments = sorted({p["seconds"] for p in ours + flair if p["seconds"] <= budget_s})
    if not moments:
        return float("nan"), float("nan")
    return min((latest(ours, t) - latest(flair, t), t) for t in moments)


def _commands(a, work: Path) -> dict[str, list[str]]:
    budget = f"00:00:{int(a.minutes):02d}:{int(a.minutes % 1 * 60):02d}"
    ours = [sys.executable, "-m", "benchmarks.peers_probe", str(work / "ours.json"), "train",
            "--config", str(ROOT / "conf/tagger/conll2003.yaml"), "--data.path", str(Path(a.data) / "conll2003"),
            "--data.cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", "peers",
            "--trainer.max_time", budget, "--trainer.max_epochs", "1000", "--wandb.mode", "disabled",
            "--trainer.enable_progress_bar", "false"]  # fmt: skip
    flair = [a.flair_python, str(ROOT / "benchmarks/peers_flair.py"), "--data", str(Path(a.data) / "conll2003"),
             "--out", str(work / "flair.json"), "--work", str(work / "flair"), "--threads", str(a.threads)]  # fmt: skip
    return {"ours": ours, "flair": flair}


def _run(commands: dict[str, list[str]], a, work: Path) -> None:
    """Both at once (or one after the other with --sequential), each stopped at the budget (plus a minute for
    ours' closing test pass); their output goes to work/<name>.log."""
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_MODE="disabled")  # fmt: skip
    groups = [list(commands)] if not a.sequential else [[name] for name in commands]
    for group in groups:
        logs = {n: open(work / f"{n}.log", "w") for n in group}  # noqa: SIM115 (closed below)
        procs = {n: subprocess.Popen(commands[n], cwd=ROOT, env=env, stdout=logs[n], stderr=subprocess.STDOUT)
                 for n in group}  # fmt: skip
        deadline = time.monotonic() + a.minutes * 60 + 60
        for n, p in procs.items():
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            logs[n].close()


def rows(a, work: Path) -> tuple[list[Row], dict]:
    curves = {n: json.loads((work / f"{n}.json").read_text()) for n in ("ours", "flair")}
    budget = a.minutes * 60
    epoch = {n: c["epoch_seconds"] for n, c in curves.items()}
    cmd = f"python -m benchmarks peers --minutes {a.minutes:g} --threads {a.threads}" + (
        " --sequential" * a.sequential
    )
    speed = Row("peer_flair_epoch_ratio", "CoNLL-2003 tagger: seconds per training epoch", "s",
                "flair 0.15 SequenceTagger", epoch["flair"], epoch["ours"], ">= 3x",
                ratio=median(epoch["flair"]) / median(epoch["ours"]), command=cmd)  # fmt: skip
    speed.met = speed.ratio >= 3
    low, at = margin(curves["ours"]["points"], curves["flair"]["points"], budget)
    best = {
        n: max([p["dev_f1"] for p in c["points"] if p["seconds"] <= budget] or [0.0])
        for n, c in curves.items()
    }
    f1 = Row("peer_flair_min_f1_margin", f"Dev F1, ours minus flair, smallest over {a.minutes:g} min", "F1",
             "flair 0.15 SequenceTagger", [best["flair"]], [best["ours"]], "> 0 at every time", ratio=low,
             command=cmd, extra={"peer_flair_min_f1_margin_at_s": at, "peer_flair_best_dev_f1": best["flair"],
                                 "peer_ours_best_dev_f1": best["ours"]})  # fmt: skip
    f1.met = low > 0
    return [speed, f1], curves


def section(rows_: list[Row], curves: dict, a) -> str:
    lines = [f"## Peers suite\n\n{report.machine_table(machine())}\n",
             f"Side by side, {a.threads} thread(s) each, {'one after the other' if a.sequential else 'at once'}, "
             f"{a.minutes:g} minutes each, cold. Architecture of both: random 100-d word embeddings, a character "
             "encoder (ours: CNN, flair: BiLSTM), BiLSTM 200 per direction, CRF; each with its own optimiser "
             "defaults (ours: the recipe's Adam; flair: SGD 0.1).\n", report.rows_table(rows_), "",
             "| minute | ours: epoch, dev F1 | flair: epoch, dev F1 |", "|---|---|---|"]  # fmt: skip

    def at(name: str, seconds: float) -> str:
        done = [p for p in curves[name]["points"] if p["seconds"] <= seconds]
        return f"{done[-1]['epoch']}, {done[-1]['dev_f1']:.2f}" if done else "-"

    for n in range(1, int(a.minutes) + 1):
        lines.append(f"| {n} | {at('ours', n * 60)} | {at('flair', n * 60)} |")
    return "\n".join(lines) + "\n\n" + report.details(rows_)


def main(a) -> None:
    work = Path(a.work or ROOT / "benchmarks/out/peers").resolve()
    work.mkdir(parents=True, exist_ok=True)
    for name in ("ours.json", "flair.json"):
        (work / name).unlink(missing_ok=True)
    _run(_commands(a, work), a, work)
    missing = [n for n in ("ours", "flair") if not (work / f"{n}.json").is_file()]
    if missing:
        sys.exit(f"No evaluation from {', '.join(missing)} within the budget: see {work}/<name>.log")
    rows_, curves = rows(a, work)
    merge_results(Path(a.results), row_figures(rows_))
    report.write_section("peers", section(rows_, curves, a), Path(a.md))
    print(report.rows_table(rows_))
