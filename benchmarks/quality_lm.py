"""The `conll_lm` quality row: CoNLL-2003 test F1 of the tagger on the pipeline's own char LMs (conf/lm/char_news.yaml
forward + backward, on the CoNLL-2003 training split's text only, then conf/tagger/conll2003_lm.yaml) next to the
same tagger recipe without LM features (conf/tagger/conll2003.yaml), both started together with the same total
wall budget and one thread per process. Also the LMs' bits per character on held-out training documents.

    python -m benchmarks.quality_lm --data ../shared/data --minutes 30 --work /tmp/q
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import lm_text
from benchmarks.harness import Row
from benchmarks.quality import _max_time

ROOT = Path(__file__).resolve().parent.parent
TEST_ALLOWANCE = 1.5
"""Minutes each route leaves for what max_time does not bound: reading the corpus, the test pass."""
FEATURE_ALLOWANCE = 2.5
"""Minutes the LM route leaves for computing the frozen features of the three splits once."""


def _start(args: list[str], log: Path) -> tuple[subprocess.Popen, list[str]]:
    cmd = [sys.executable, "-m", "pipeline", "train", *args, "--wandb.mode", "disabled",
           "--trainer.enable_progress_bar", "false"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT), cmd


def _finish(proc: subprocess.Popen, cmd: list[str], log: Path) -> None:
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{log.read_text()[-3000:]}")


def _best(folder: Path) -> str:
    return str(folder / "best.ckpt") if (folder / "best.ckpt").is_file() else str(folder / "last.ckpt")


def compare(data: Path, minutes: float, lm_minutes: float, work: Path, brown: bool = False) -> dict:
    """Both routes side by side; per stage: command, wall seconds, metrics. With `brown`, the LMs' training text
    is CoNLL-2003's training split and Brown's (the issue allows both; never dev or test text)."""
    work.mkdir(parents=True, exist_ok=True)
    text = work / "lm_text"
    lines = lm_text.write(data / "conll2003", text, data / "brown" if brown else None)
    common = [
        "--data.cache_dir",
        str(work / "cache"),
        "--runs_dir",
        str(work / "runs"),
        "--trainer.max_epochs",
        "1000",
    ]
    conll = ["--data.path", str(data / "conll2003")]
    out: dict = {"budget_min": minutes, "lm_text_lines": lines, "lm_text_brown": brown, "stages": {}}
    started = time.perf_counter()
    base = _start(["--config", "conf/tagger/conll2003.yaml", *conll, *common, "--name", "conll_baseline",
                   "--trainer.max_time", _max_time(minutes - TEST_ALLOWANCE)], work / "baseline.log")  # fmt: skip
    lms = {
        d: _start(
            [
                "--config",
                "conf/lm/char_news.yaml",
                "--data.path",
                str(text),
                *common,
                "--name",
                f"char_news_{d}",
                "--data.reverse",
                str(d == "bwd").lower(),
                "--trainer.max_time",
                _max_time(lm_minutes),
            ],
            work / f"lm_{d}.log",
        )  # fmt: skip
        for d in ("fwd", "bwd")
    }
    for d, (proc, cmd) in lms.items():
        _finish(proc, cmd, work / f"lm_{d}.log")
        run = work / "runs" / f"char_news_{d}"
        out["stages"][f"lm_{d}"] = {"command": " ".join(cmd[1:]), "wall_s": time.perf_counter() - started,
                                    "metrics": json.loads((run / "metrics.json").read_text())}  # fmt: skip
    lm_done = time.perf_counter() - started
    left = max(minutes - lm_done / 60 - TEST_ALLOWANCE - FEATURE_ALLOWANCE, 0.5)
    ckpts = [_best(work / "runs" / f"char_news_{d}" / "checkpoints") for d in ("fwd", "bwd")]
    tagger = _start(["--config", "conf/tagger/conll2003_lm.yaml", *conll, *common, "--name", "conll_lm",
                     "--model.lm_embeddings", json.dumps(ckpts), "--trainer.max_time", _max_time(left)],
                    work / "tagger_lm.log")  # fmt: skip
    _finish(*tagger, work / "tagger_lm.log")
    out["stages"]["tagger_lm"] = {"command": " ".join(tagger[1][1:]), "wall_s": time.perf_counter() - started - lm_done,
                                  "metrics": json.loads((work / "runs" / "conll_lm" / "metrics.json").read_text())}  # fmt: skip
    out["lm_route_wall_s"] = time.perf_counter() - started
    _finish(*base, work / "baseline.log")
    out["stages"]["baseline"] = {"command": " ".join(base[1][1:]), "wall_s": time.perf_counter() - started,
                                 "metrics": json.loads((work / "runs" / "conll_baseline" / "metrics.json").read_text())}  # fmt: skip
    return out


def rows(result: dict) -> list[Row]:
    s = result["stages"]
    lm_f1, base_f1 = s["tagger_lm"]["metrics"]["test"]["f1"], s["baseline"]["metrics"]["test"]["f1"]
    bits = {d: s[f"lm_{d}"]["metrics"]["test"]["bits"] for d in ("fwd", "bwd")}
    gain = Row("conll_lm_test_f1_gain", "CoNLL-2003 test F1, tagger on own char LMs vs the same tagger without",
               "F1", "same recipe without LM features", [base_f1], [lm_f1],
               f">= +1.0 (budget {result['budget_min']:g} min each)", ratio=lm_f1 - base_f1, command=s["tagger_lm"]["command"],
                extra={"conll_lm_f1": lm_f1, "conll_no_lm_f1": base_f1, "char_lm_fwd_test_bits_per_char": bits["fwd"],
                      "char_lm_bwd_test_bits_per_char": bits["bwd"]})  # fmt: skip
    gain.met = gain.ratio >= 1.0
    return [gain]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--minutes", type=float, default=30.0, help="Total wall budget of each route.")
    p.add_argument("--lm-minutes", type=float, default=8.0, help="Training budget of each LM (side by side).")
    p.add_argument(
        "--work", type=Path, required=True, help="Scratch folder (runs, caches, logs, result.json)."
    )
    p.add_argument("--brown", action="store_true", help="Brown's training text added to the LMs' text.")
    a = p.parse_args()
    result = compare(a.data.resolve(), a.minutes, a.lm_minutes, a.work.resolve(), a.brown)
    (a.work / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in rows(result)[0].__dict__.items()}, indent=1))


if __name__ == "__main__":
    main()
