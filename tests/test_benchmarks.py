"""Smoke test of the benchmark harness (benchmarks/) on a generated tiny corpus: it runs end to end and
writes BENCHMARKS.md, results.json and a plot. No timing is asserted (speed depends on the machine)."""

from __future__ import annotations

import json
import os
import random
import re
import sys

import pytest
import torch

from benchmarks import memory, profiles
from benchmarks.__main__ import main
from benchmarks.harness import merge_results

WORDS = [f"w{i}" for i in range(60)]
TYPES = ["PER", "LOC", "ORG", "MISC"]


def _text(rng: random.Random, lines: int) -> str:
    return "".join(
        " ".join(rng.choices(WORDS[: rng.randint(10, 60)], k=rng.randint(3, 15))) + "\n" for _ in range(lines)
    )


def _conll(rng: random.Random, sentences: int) -> str:
    out = ["-DOCSTART- -X- -X- O", ""]
    for _ in range(sentences):
        for _ in range(rng.randint(2, 8)):
            word = rng.choice(WORDS)
            tag = "O" if rng.random() < 0.6 else f"B-{rng.choice(TYPES)}"
            out.append(f"{word} NN O {tag}")
        out.append("")
    return "\n".join(out) + "\n"


def make_data_root(root) -> None:
    rng = random.Random(0)
    (root / "brown").mkdir(parents=True)
    (root / "conll2003").mkdir()
    for name, lines in (("train", 1500), ("valid", 200), ("test", 200)):
        (root / "brown" / f"{name}.txt").write_text(_text(rng, lines))
        (root / "conll2003" / f"{name}.txt").write_text(_conll(rng, lines // 5))


def test_fast_suite_runs_on_tiny_data(tmp_path):
    make_data_root(tmp_path / "data")
    (tmp_path / "out").mkdir()
    results = tmp_path / "out" / "results.json"
    results.write_text(json.dumps({"quality_key": 1.5}))  # written by the other suite: must survive
    threads = torch.get_num_threads()
    try:
        main([
            "fast", "--data", str(tmp_path / "data"), "--md", str(tmp_path / "out" / "BENCHMARKS.md"),
            "--results", str(results), "--plots", str(tmp_path / "out"), "--work", str(tmp_path),
            "--repeats", "1", "--train-repeats", "1", "--tagger-repeats", "1", "--lm-steps", "2", "--tagger-steps", "2", "--warmup", "1", "--eval-batches", "2",
            "--large-mb", "0.2", "--threads", "1", "--skip", "ddp", "--no-profile",
            "--softmax-steps", "2", "--softmax-vocab", "3000",
        ])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    figures = json.loads(results.read_text())
    for key in ("lm_train_overhead_ratio", "tagger_train_overhead_ratio", "prepare_speedup_vs_naive",
                "prepare_0.2mb_peak_rss_gb", "prepare_cached_fraction", "data_wait_fraction",
                "eval_vs_train_forward_ratio", "bf16_vs_fp32_cpu_ratio", "quality_key",
                "adaptive_vs_full_softmax_ratio", "softmax_full_ppl", "softmax_adaptive_ppl",
                "adaptive_input_vs_adaptive_ratio", "softmax_adaptive_input_ppl"):  # fmt: skip
        assert key in figures, key
        assert figures[key] == figures[key] and figures[key] >= 0, (key, figures[key])  # a number, not NaN
    assert figures["softmax_adaptive_weights"] - figures["softmax_adaptive_input_weights"] == 3000 * 256
    if (os.cpu_count() or 1) > 1:  # --data.num_proc 1 against the machine's cores
        assert figures["prepare_0.2mb_num_proc_speedup"] > 0 and figures["prepare_0.2mb_peak_pss_gb"] > 0
    md = (tmp_path / "out" / "BENCHMARKS.md").read_text()
    assert "lm_train_overhead_ratio" in md and "median" in md
    assert (tmp_path / "out" / "fast_ratios.png").stat().st_size > 0


def test_the_tagger_rows_fixed_cost_times_both_loops_without_model_work(tmp_path):
    from benchmarks import recipes, speed

    make_data_root(tmp_path / "data")
    cfgs = recipes.tagger(tmp_path / "data", tmp_path / "cache")
    module = recipes.tagger_module(cfgs[0])
    model = speed._no_work(speed.TASKS["tagger"].build_module(cfgs[1], cfgs[2], module.model_inputs()).model)
    loss = model.loss(next(iter(module.train_dataloader())))
    loss.backward()
    assert loss.item() == 1.0 and sum(p.grad is not None for p in model.parameters()) == 1
    text = speed.fixed_cost(cfgs, 3, 1, tmp_path, ours_rate=1000.0, bare_rate=1100.0)
    ours, bare = (float(x) for x in re.findall(r"takes ([0-9.]+) ms in ours and ([0-9.]+) ms", text)[0])
    assert ours > 0 and bare > 0 and "the target leaves" in text


def test_results_merge_keeps_other_keys(tmp_path):
    path = tmp_path / "r.json"
    merge_results(path, {"a": 1.0, "b": 2.0})
    merge_results(path, {"b": 3.0, "c": 4.0})
    assert json.loads(path.read_text()) == {"a": 1.0, "b": 3.0, "c": 4.0}


def test_profile_names_the_hot_function():
    def hot():
        return sum(i * i for i in range(200_000))

    assert "genexpr" in profiles.top(hot, n=3)


def test_tree_memory_counts_a_forked_childs_shared_pages_once_in_pss():
    """Summed RSS counts the pages a forked child shares with its parent twice; summed PSS splits them."""
    code = (
        "import os, time\n"
        "block = bytearray(300 * 2**20)\n"  # written: resident in the parent, shared with the child after fork
        "pid = os.fork()\n"
        "time.sleep(1.0)\n"
        "os._exit(0) if pid == 0 else os.waitpid(pid, 0)\n"
    )
    m = memory.run([sys.executable, "-c", code], interval=0.05)
    assert m.peak_tree_rss > 1.8 * 300 * 2**20  # both processes' RSS hold the block
    assert 300 * 2**20 < m.peak_tree_pss < 1.4 * 300 * 2**20  # held once in all


def test_repeat_study_stops_when_the_interval_leaves_the_target():
    from benchmarks.repeats import interval, settled

    assert interval([100.0] * 5, [90.0] * 5) == (0.9, 0.9)  # no spread: the interval is the ratio itself
    clear = settled([100.0, 101.0, 99.0], [90.0, 91.0, 89.5])  # ratio 0.9, far below 0.95
    assert clear["done"] and clear["high"] < 0.95 and abs(clear["gap"] - 0.1) < 1e-9
    noisy = settled([100.0, 80.0, 120.0], [96.0, 76.0, 118.0])  # ratio 0.96, interval straddles 0.95
    assert not noisy["done"] and noisy["low"] < 0.95 < noisy["high"]
    assert not settled([100.0, 100.0], [80.0, 80.0])["done"]  # never before 3 repeats


def test_pairing_the_repeats_cancels_the_machines_drift():
    from benchmarks.repeats import interval, paired_interval

    base = [100.0, 140.0, 80.0, 120.0, 95.0]  # the machine's speed drifts between repeats ...
    ours = [0.9 * b for b in base]  # ... and ours is 0.9 of the bare loop in every repeat
    low, high = interval(base, ours)
    assert low < 0.8 and high > 1.0  # unpaired, the drift hides the ratio
    assert paired_interval(base, ours) == pytest.approx((0.9, 0.9, 0.9))


def test_repeat_study_runs_on_tiny_data(tmp_path):
    make_data_root(tmp_path / "data")
    md = tmp_path / "out" / "BENCHMARKS.md"
    md.parent.mkdir()
    threads = torch.get_num_threads()
    try:
        for row in ("lm", "tagger"):
            main(["repeats", "--data", str(tmp_path / "data"), "--md", str(md), "--work", str(tmp_path), "--row", row,
                  "--max-repeats", "3", "--lm-steps", "2", "--tagger-steps", "2", "--warmup", "1", "--threads", "1"])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    for name in ("section_repeats.md", "section_repeats_tagger.md"):
        text = (tmp_path / "out" / name).read_text()
        assert "| 3 |" in text and ("Settled after" in text or "Not settled after 3 repeats" in text)
    assert "LM row repeat study" in md.read_text() and "Tagger row repeat study" in md.read_text()
