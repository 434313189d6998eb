"""`python -m benchmarks peers`: the equal-time F1 margin against a brute-force oracle, and the whole harness
with ours trained for real on a tiny corpus (flair replaced by a stand-in that writes flair's curve format:
flair is never installed in this project's environment)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from benchmarks import peers
from benchmarks.__main__ import main
from tests.test_benchmarks import make_data_root


def brute_margin(ours, flair, budget):
    """ours - flair at every 0.01 s from 0 to the budget; the smallest where either side has a figure."""
    grid = np.arange(0, budget + 1e-9, 0.01)
    first = min(p["seconds"] for p in ours + flair)

    def value(points, t):
        done = [p["dev_f1"] for p in points if p["seconds"] <= t + 1e-9]
        return done[-1] if done else 0.0

    return min(value(ours, t) - value(flair, t) for t in grid if t >= first - 1e-9)


def test_margin_equals_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        curves = [
            [
                {"seconds": float(t), "dev_f1": float(rng.uniform(0, 100))}
                for t in np.sort(rng.uniform(0, 9, n)).round(2)
            ]
            for n in rng.integers(1, 6, 2)
        ]
        low, at = peers.margin(*curves, budget_s=10)
        assert abs(low - brute_margin(*curves, 10)) < 1e-9
        assert abs(peers.latest(curves[0], at) - peers.latest(curves[1], at) - low) < 1e-9
    flair_first = [{"seconds": 1.0, "dev_f1": 50.0}], [{"seconds": 0.5, "dev_f1": 40.0}]
    assert peers.margin(*flair_first, budget_s=10) == (-40.0, 0.5)  # flair ahead before ours reports anything


FAKE_FLAIR = """
import json, sys, time
out = sys.argv[sys.argv.index("--out") + 1]
points = [{"seconds": 2.0 + 3 * i, "epoch": i + 1, "dev_f1": 10.0 * (i + 1)} for i in range(3)]
time.sleep(1)
json.dump({"points": points, "epoch_seconds": [3.0, 3.0, 3.0]}, open(out, "w"))
"""


def test_harness_trains_ours_and_writes_both_rows(tmp_path, monkeypatch):
    make_data_root(tmp_path / "data")
    fake = tmp_path / "fake_flair.py"
    fake.write_text(FAKE_FLAIR)
    real = peers._commands

    def commands(a, work):
        out = real(a, work)
        out["flair"] = [
            sys.executable,
            str(fake),
            *out["flair"][2:],
        ]  # the stand-in in place of peers_flair.py
        return out

    monkeypatch.setattr(peers, "_commands", commands)
    md, results = tmp_path / "B.md", tmp_path / "r.json"
    main(["peers", "--data", str(tmp_path / "data"), "--flair-python", sys.executable, "--minutes", "0.4",
          "--md", str(md), "--results", str(results), "--work", str(tmp_path / "w")])  # fmt: skip
    ours = json.loads((tmp_path / "w" / "ours.json").read_text())
    assert ours["points"] and all(p["seconds"] > 0 for p in ours["points"]) and ours["epoch_seconds"]
    assert [p["epoch"] for p in ours["points"]] == list(range(1, len(ours["points"]) + 1))
    figures = json.loads(results.read_text())
    assert figures["peer_flair_epoch_ratio"] == pytest.approx(
        3.0 / float(np.median(ours["epoch_seconds"])), rel=1e-3
    )
    low, _ = peers.margin(
        ours["points"], json.loads((tmp_path / "w" / "flair.json").read_text())["points"], 24
    )
    assert figures["peer_flair_min_f1_margin"] == pytest.approx(low, rel=1e-3)
    text = (tmp_path / "section_peers.md").read_text()
    assert "peer_flair_epoch_ratio" in text and "\n| 1 | " not in text  # under a minute: no per-minute rows
