"""`python -m pipeline demo`: the whole pipeline offline, on corpora whose best possible scores are known.

A random hidden Markov model writes ordinary text files (language modelling) and CoNLL files
(its hidden states as tags); both are trained, evaluated and used through the normal commands,
and the scores are printed next to what the generating model itself achieves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jsonargparse import ArgumentParser
from rich.console import Console
from rich.table import Table

from data_modules.synthetic import random_hmm, write_lm_corpus, write_tagging_corpus
from pipeline import config as configs
from pipeline.commands import evaluate, generate, train
from pipeline.paths import recipe_path


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m pipeline demo", exit_on_error=False, allow_abbrev=False)
    p.add_argument("--out", type=str, default="demo_out", help="Folder for the corpora, caches and runs.")
    p.add_argument("--tokens", type=int, default=150_000, help="Training tokens of the LM corpus.")
    p.add_argument("--sentences", type=int, default=2000, help="Training sentences of the tagging corpus.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the HMM and of the samples.")
    p.add_argument("--tasks", type=list[str], default=["lm", "tagger"], help="Which halves to run.")
    p.add_argument("--verbose", type=bool, default=False, help="Show tracebacks for errors.")
    return p


def common(out: Path, name: str) -> list[str]:
    return [
        "--runs_dir", str(out / "runs"), "--name", name, "--fresh", "true",
        "--data.cache_dir", str(out / "cache"), "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip


def main(args: list[str]) -> dict:
    cfg = configs.parse(parser(), args)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    out = Path(cfg.out)
    hmm = random_hmm(seed=cfg.seed)
    rows, summary = [], {}
    if "lm" in cfg.tasks:
        small = max(cfg.tokens // 10, 2000)
        stats = write_lm_corpus(
            out / "lm-corpus", hmm, {"train": cfg.tokens, "validation": small, "test": small}, cfg.seed
        )
        recipe = recipe_path("conf/lm/demo.yaml")
        train.main(["--config", recipe, "--data.path", str(out / "lm-corpus"), *common(out, "demo-lm")])
        ckpt = str(out / "runs" / "demo-lm" / "checkpoints" / "best.ckpt")
        result = evaluate.main([ckpt, "--split", "test", "--output", str(out / "lm-test.json"),
                                "--data.cache_dir", str(out / "cache"), "--trainer.enable_progress_bar", "false"])  # fmt: skip
        print("Sample:")
        generate.main([ckpt, "--prompt", "", "--max_tokens", "30", "--temperature", "0.8", "--seed", "0"])
        summary["lm"] = {"test_ppl": result["perplexity"], **stats}
        rows += [
            ("LM test perplexity (our model)", f"{result['perplexity']:.3f}"),
            ("LM unigram perplexity (train counts)", f"{stats['unigram_ppl']:.3f}"),
            ("LM true perplexity (the HMM itself)", f"{stats['true_ppl']:.3f}"),
        ]
    if "tagger" in cfg.tasks:
        small = max(cfg.sentences // 6, 50)
        sizes = {"train": cfg.sentences, "validation": small, "test": small}
        stats = write_tagging_corpus(out / "tag-corpus", hmm, sizes, cfg.seed)
        train.main(["--config", recipe_path("conf/tagger/demo.yaml"), "--data.path", str(out / "tag-corpus"),
                    *common(out, "demo-tagger")])  # fmt: skip
        ckpt = str(out / "runs" / "demo-tagger" / "checkpoints" / "best.ckpt")
        result = evaluate.main([ckpt, "--split", "test", "--output", str(out / "tagger-test.json"),
                                "--data.cache_dir", str(out / "cache"), "--trainer.enable_progress_bar", "false"])  # fmt: skip
        summary["tagger"] = {"test_accuracy": result["accuracy"], **stats}
        rows += [
            ("Tagger test accuracy (our model)", f"{result['accuracy']:.2f}"),
            ("Tagger best accuracy (true HMM, posterior decoding)", f"{stats['best_accuracy']:.2f}"),
        ]
    table = Table(title="Demo: our models next to the known optimum")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
