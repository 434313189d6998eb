"""`make bench-quality`: model quality within a stated wall-clock budget per row, next to published numbers.

Each row is one real `python -m pipeline train` run (the CLI users run) with `--trainer.max_time`;
the figure is what that command writes to the run's metrics.json, and the learning curve comes from
its metrics.csv. Runs and temporary corpora live in a scratch folder outside the repository.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks import prepare, report
from benchmarks.harness import Row, machine, merge_results, row_figures

PUBLISHED = {
    "brown": {"Bengio et al. 2003 best neural": 252.0, "class-based n-gram": 312.0, "Kneser-Ney": 321.0},
    "conll": {"Huang et al. 2015 (random emb.)": 84.26, "Ma & Hovy 2016 (random emb.)": 80.76},
    "shakespeare": {"nanoGPT CPU recipe (~3 min)": 1.88},
}


def _max_time(minutes: float) -> str:
    s = int(round(minutes * 60))
    return f"00:{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def train(
    name: str, config: str, minutes: float, work: Path, extra: list[str]
) -> tuple[dict, Path, float, str]:
    """Run the training CLI with a time budget; (metrics.json, run dir, wall seconds, command)."""
    cmd = [sys.executable, "-m", "pipeline", "train", "--config", config, "--runs_dir", str(work / "runs"),
           "--name", name, "--wandb.mode", "disabled", "--data.cache_dir", str(work / "cache"),
           "--trainer.max_time", _max_time(minutes), "--trainer.enable_progress_bar", "false", *extra]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    run = work / "runs" / name
    shown = " ".join(c if not c.startswith(str(work)) else "<tmp>" + c[len(str(work)) :] for c in cmd[1:])
    return json.loads((run / "metrics.json").read_text()), run, seconds, "python " + shown


def curve(run: Path, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of a logged metric from the run's metrics.csv."""
    xs, ys = [], []
    path = run / "metrics.csv"
    if not path.is_file():
        return xs, ys
    with open(path) as f:
        for row in csv.DictReader(f):
            if row.get(key) not in (None, "") and row.get("step") not in (None, ""):
                xs.append(float(row["step"]))
                ys.append(float(row[key]))
    return xs, ys


def _row(key, title, unit, published, value, minutes, seconds, command, lower_better, metrics) -> Row:
    ref = min(published.values()) if lower_better else max(published.values())
    row = Row(key, title, unit, ", ".join(f"{k} {v:g}" for k, v in published.items()), [ref], [value],
              f"budget {minutes:g} min", ratio=value / ref, command=command,
              extra={key.replace("_ratio", ""): value, f"{key.replace('_ratio', '')}_budget_min": minutes,
                     f"{key.replace('_ratio', '')}_wall_min": seconds / 60,
                     f"{key.replace('_ratio', '')}_steps": float(metrics.get("global_step", 0))})  # fmt: skip
    return row


def shakespeare(data: Path, minutes: float, work: Path, plots: Path) -> Row:
    """nanoGPT's split: the first 90% of input.txt trains, the last 10% validates (and stands in as test)."""
    text = (data / "tinyshakespeare" / "input.txt").read_text()
    folder = work / "shakespeare"
    folder.mkdir(parents=True)
    cut = int(len(text) * 0.9)
    (folder / "train.txt").write_text(text[:cut])
    (folder / "valid.txt").write_text(text[cut:])
    (folder / "test.txt").write_text(text[cut:])
    extra = ["--data.path", str(folder), "--trainer.max_epochs", "1000", "--trainer.max_steps", "-1",
             "--trainer.val_check_interval", "100",
             "--trainer.log_every_n_steps", "10"]  # fmt: skip
    metrics, run, secs, cmd = train("shakespeare", "conf/lm/char_shakespeare.yaml", minutes, work, extra)
    value = metrics["val"]["loss"]
    report.curve_plot("Tiny Shakespeare, char LSTM", {"train loss": curve(run, "train/loss"),
                      "val loss": curve(run, "val/loss")}, "nats/char", plots / "quality_shakespeare.png",
                      PUBLISHED["shakespeare"], xlabel="optimizer steps")  # fmt: skip
    return _row("shakespeare_val_nats_per_char_ratio", "Tiny Shakespeare char LM, validation loss (nats/char)",
                "nats/char", PUBLISHED["shakespeare"], value, minutes, secs, cmd, True, metrics)  # fmt: skip


def brown(data: Path, minutes: float, work: Path, plots: Path) -> Row:
    extra = [
        "--data.path",
        str(data / "brown"),
        "--trainer.max_epochs",
        "1000",
        "--trainer.log_every_n_steps",
        "50",
    ]
    metrics, run, secs, cmd = train("brown", "conf/lm/brown.yaml", minutes, work, extra)
    value = metrics["test"]["ppl"]
    xs, ys = curve(run, "train/loss")
    report.curve_plot("Brown word LM (2x256 tied LSTM)", {"train ppl": (xs, [math.exp(y) for y in ys]),
                      "val ppl": curve(run, "val/ppl")}, "perplexity", plots / "quality_brown.png",
                      PUBLISHED["brown"], xlabel="optimizer steps", log=True)  # fmt: skip
    return _row("brown_test_ppl_ratio", "Brown LM test perplexity", "ppl", PUBLISHED["brown"], value, minutes,
                secs, cmd, True, metrics)  # fmt: skip


def conll(data: Path, minutes: float, work: Path, plots: Path) -> Row:
    extra = ["--data.path", str(data / "conll2003"), "--trainer.max_epochs", "1000"]
    metrics, run, secs, cmd = train("conll", "conf/tagger/conll2003.yaml", minutes, work, extra)
    value = metrics["test"]["f1"]
    report.curve_plot("CoNLL-2003 NER (BiLSTM-CNN-CRF)", {"val F1": curve(run, "val/f1")}, "span F1",
                      plots / "quality_conll.png", PUBLISHED["conll"], xlabel="optimizer steps")  # fmt: skip
    return _row("conll_test_f1_ratio", "CoNLL-2003 test span F1 (conlleval)", "F1", PUBLISHED["conll"], value,
                minutes, secs, cmd, False, metrics)  # fmt: skip


def _saved(path: Path) -> dict[str, dict]:
    """Rows of earlier quality runs, by key: a row rerun alone (`--rows conll`) replaces only itself."""
    return json.loads(path.read_text()) if path.is_file() else {}


def main(a) -> None:
    data, plots = Path(a.data).resolve(), Path(a.plots)
    work = Path(tempfile.mkdtemp(prefix="bench-quality-", dir=a.work))
    info, rows, started = machine(), [], time.perf_counter()
    try:
        if "shakespeare" in a.rows:
            rows.append(shakespeare(data, a.shakespeare_minutes, work, plots))
        if "brown" in a.rows:
            rows.append(brown(data, a.brown_minutes, work, plots))
        if "conll" in a.rows:
            rows.append(conll(data, a.conll_minutes, work, plots))
        if "conll_lm" in a.rows:  # the tagger on its own char LMs vs without, both routes side by side
            from benchmarks import quality_lm

            result = (json.loads(Path(a.conll_lm_result).read_text()) if a.conll_lm_result  # a finished run's
                      else quality_lm.compare(data, a.conll_lm_minutes, a.lm_minutes, work / "conll_lm"))  # fmt: skip
            rows += quality_lm.rows(result)
        if "large" in a.rows:
            rows += prepare.large_rows(data, a.large_mb, a.repeats, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    merge_results(Path(a.results), row_figures(rows))
    minutes = (time.perf_counter() - started) / 60
    invocation = (
        f"`python -m benchmarks quality --data {a.data} --rows {' '.join(a.rows)} --shakespeare-minutes "
        f"{a.shakespeare_minutes} --brown-minutes {a.brown_minutes} --conll-minutes {a.conll_minutes} "
        f"--conll-lm-minutes {a.conll_lm_minutes} --lm-minutes {a.lm_minutes} --large-mb "
        f"{a.large_mb} --repeats {a.repeats}"
        + (f" --conll-lm-result {a.conll_lm_result}" if a.conll_lm_result else "")
        + f"` on {info['date']}, commit {info['commit']}, torch threads "
        f"{info['torch_threads']} per process, {minutes:.1f} minutes in all"
    )
    store = report.section_path("quality", Path(a.md)).with_name("quality_rows.json")
    saved = _saved(store) | {r.key: {"row": asdict(r), "run": invocation} for r in rows}
    store.write_text(json.dumps(saved, indent=1) + "\n")
    order = [k for k in ROW_ORDER if k in saved] + sorted(k for k in saved if k not in ROW_ORDER)
    all_rows = [Row(**saved[k]["row"]) for k in order]
    pics = [f"![{n}](benchmarks/quality_{n}.png)" for n in ("shakespeare", "brown", "conll")
            if any(k.startswith(n) for k in saved)]  # fmt: skip
    runs = sorted({saved[k]["run"] for k in order})
    text = "\n\n".join([
        "## Quality suite (`make bench-quality`)",
        "Each model row is ONE training run (`python -m pipeline train`, the users' command) with the stated "
        "wall-clock budget (`--trainer.max_time`; validation and test time not included); 'ratio' is ours / the "
        "best published figure. Rows can be rerun alone (`--rows`); the runs behind this table:\n\n"
        + "\n".join(f"- {r}" for r in runs),
        report.machine_table({k: v for k, v in info.items() if k not in ("date", "commit", "torch_threads")}),
        report.rows_table(all_rows),
        " ".join(pics),
        "### Details\n\n" + "\n".join(report.details([row]) + f"\n  Run: {saved[row.key]['run']}." for row in all_rows),
    ])  # fmt: skip
    report.write_section("quality", text, Path(a.md))
    print(f"quality suite: {len(rows)} rows -> {a.md}, {a.results}")


ROW_ORDER = ("shakespeare_val_nats_per_char_ratio", "brown_test_ppl_ratio", "conll_test_f1_ratio",
             "conll_lm_test_f1_gain")  # fmt: skip
