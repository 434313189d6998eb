"""Tagger throughput, onnxruntime vs PyTorch on the CPU: sentences/s of `tag()` at batch 1 and batch 64.

    OMP_NUM_THREADS=1 python -m benchmarks.onnx_speed --data ../shared/data --work /tmp/onnx-bench

Trains the CoNLL-2003 recipe's model (full size: 100-d words, char CNN, 200-unit BiLSTM, CRF) for a few steps
on the real corpus (its speed does not depend on how well it is trained), exports it with `--format onnx`, and
tags the CoNLL-2003 test sentences with `pipeline.load(ckpt).tag` and `onnx_runtime.load(dir).tag`, both end to
end (encoding, network, Viterbi, tag names), one thread each; at batch 64 on sentences sorted by length. Times are medians of interleaved repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

import pipeline
from data_modules.tagging.conll import read_prediction_file
from pipeline import onnx_runtime
from pipeline.__main__ import main as cli


def _train_and_export(data: Path, work: Path) -> tuple[Path, Path]:
    ckpt = work / "runs" / "conll" / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        args = ["train", "--config", "conf/tagger/conll2003.yaml", "--data.path", str(data / "conll2003"),
                "--data.cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", "conll",
                "--trainer.max_steps", "20", "--trainer.limit_val_batches", "1", "--trainer.accelerator", "cpu",
                "--trainer.enable_progress_bar", "false", "--wandb.mode", "disabled"]  # fmt: skip
        assert cli(args) == 0
    out = work / "onnx"
    if not (out / "emissions.onnx").is_file():
        assert cli(["export", str(ckpt), "--format", "onnx", "--output", str(out)]) == 0
    return ckpt, out


def measure(data: Path, work: Path, sentences_b1: int = 300, repeats: int = 3) -> dict:
    torch.set_num_threads(1)
    ckpt, folder = _train_and_export(data, work)
    sentences, _, _ = read_prediction_file(str(data / "conll2003" / "test.txt"), "conll", 0, -1)
    torch_tagger = pipeline.load(ckpt)
    onnx_tagger = onnx_runtime.load(folder, threads=1)
    assert onnx_tagger.tag(sentences[:200]) == torch_tagger.tag(sentences[:200])  # the same model
    results = {}
    # Batch 64 tags the sentences sorted by length, so both sides get batches of similar lengths (the ONNX
    # runtime sorts by itself; PyTorch's predict order does not), and the comparison is of the engines.
    by_length = sorted(sentences, key=len)
    for batch, sents in ((1, sentences[:sentences_b1]), (64, by_length)):
        torch_tagger.dm.cfg.eval_batch_size, torch_tagger.dm.cfg.max_tokens_per_batch = batch, None
        runs: dict[str, list[float]] = {"pytorch": [], "onnxruntime": []}
        for _ in range(repeats):  # interleaved, so a busy moment of the machine hits both
            for name, fn in (("pytorch", lambda s=sents: torch_tagger.tag(s)),
                             ("onnxruntime", lambda s=sents, b=batch: onnx_tagger.tag(s, batch_size=b))):  # fmt: skip
                start = time.perf_counter()
                fn()
                runs[name].append(len(sents) / (time.perf_counter() - start))
        results[batch] = {name: statistics.median(v) for name, v in runs.items()} | {"sentences": len(sents)}
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--work", type=Path, default=Path("/tmp/onnx-bench"))
    args = p.parse_args()
    results = measure(args.data, args.work)
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, torch {torch.__version__}, 1 thread each")
    print("| batch | sentences | PyTorch sent/s | onnxruntime sent/s | ratio |")
    print("|---|---|---|---|---|")
    for batch, r in results.items():
        ratio = r["onnxruntime"] / r["pytorch"]
        print(f"| {batch} | {r['sentences']} | {r['pytorch']:.0f} | {r['onnxruntime']:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
