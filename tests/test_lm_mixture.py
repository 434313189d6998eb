"""Several LM corpora mixed with weights (`--data.mix`): each its own cache entries, the mixture deterministic,
in the weights' proportions, and resumed exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from data_modules.lm import mixture
from data_modules.lm.config import LMDataConfig
from data_modules.lm.datamodule import LMDataModule
from tests.conftest import write_hmm_corpus
from tests.test_resume import WRAPPER, final_state, lm_args, run, val_rows


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("mix-a"), tmp_path_factory.mktemp("mix-b")
    write_hmm_corpus(a, tokens=6000, seed=0)
    write_hmm_corpus(b, tokens=3000, seed=5)
    return a, b


def prepared(cache: Path, mix: dict) -> LMDataModule:
    dm = LMDataModule(LMDataConfig(mix=mix, cache_dir=str(cache), batch_size=2, bptt=5))
    dm.setup()
    return dm


def test_block_order_follows_the_weights_and_the_seed():
    lengths = [10 * mixture.BLOCK, 5 * mixture.BLOCK + 7]  # 10 and 6 blocks
    order = mixture.block_order(lengths, [1.0, 3.0])
    assert np.array_equal(order, mixture.block_order(lengths, [1.0, 3.0]))
    assert len(order) == 16 and np.bincount(order[:, 0]).tolist() == [4, 12]  # 16 * 1/4, 16 * 3/4
    light, heavy = (order[order[:, 0] == i, 1] for i in (0, 1))
    assert len(set(light.tolist())) == 4  # subsampled without repeats
    assert np.bincount(heavy, minlength=6).tolist() == [2] * 6  # every block twice
    plain = mixture.block_order(lengths, None)
    assert plain.tolist() == [[0, b] for b in range(10)] + [[1, b] for b in range(6)]


def test_mixture_is_deterministic_and_made_of_each_corpus_entries(tmp_path, corpora, monkeypatch):
    monkeypatch.setattr(mixture, "BLOCK", 64)  # many blocks from these small corpora
    a, b = corpora
    mix = {str(a): 1.0, str(b): 2.0}
    first, second = prepared(tmp_path / "c1", mix), prepared(tmp_path / "c2", mix)
    for split in ("train", "validation", "test"):
        assert np.array_equal(first.ids[split], second.ids[split])
    # Each corpus has its own entries (3 splits x 2 corpora); the two largest are the training splits.
    parts = {p.name: np.load(p) for p in (tmp_path / "c1").glob("ids-*.npy") if "mix" not in p.name}
    assert len(parts) == 6
    (n_a, name_a), (n_b, name_b) = sorted(((len(v), k) for k, v in parts.items()), reverse=True)[:2]
    blocks: dict[bytes, set[str]] = {}
    for name in (name_a, name_b):
        for k in range(0, len(parts[name]), 64):
            blocks.setdefault(parts[name][k : k + 64].tobytes(), set()).add(name)
    # The training mixture, read back as blocks of the two training splits (64 tokens, or a split's last, shorter).
    train, chunks, k = first.ids["train"], [], 0
    while k < len(train):
        n = next(n for n in range(64, 0, -1) if train[k : k + n].tobytes() in blocks)
        chunks.append(blocks[train[k : k + n].tobytes()])
        k += n
    total = -(-n_a // 64) + -(-n_b // 64)
    assert len(chunks) == total
    assert abs(sum(c == {name_b} for c in chunks) - total * 2 / 3) <= 1  # weight 2 of 3
    # Validation and test are both corpora's splits, one after the other, each token once.
    assert len(first.ids["test"]) + len(first.ids["validation"]) == sum(
        len(ids) for n, ids in parts.items() if n not in (name_a, name_b)
    )
    # A new weight re-tokenizes nothing: only the training mixture is written again.
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "c1").glob("ids-*.npy")}
    other = prepared(tmp_path / "c1", {str(a): 3.0, str(b): 1.0})
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "c1").glob("ids-*.npy")}
    assert {k: v for k, v in after.items() if k in before} == before
    assert len(set(after) - set(before)) == 1
    assert not np.array_equal(other.ids["train"], train)
    assert np.array_equal(other.ids["test"], first.ids["test"])


def test_a_mixture_resumes_exactly(tmp_path, corpora):
    script = tmp_path / "wrapped.py"
    script.write_text(WRAPPER)
    mix = ["--data.mix", json.dumps({str(corpora[0]): 1.0, str(corpora[1]): 2.0})]

    def args(name):
        return [*lm_args(tmp_path, corpora[0], name, 1), *mix, "--trainer.max_epochs", "1"]

    full = run(script, args("full"))
    assert full.returncode == 0, full.stderr[-3000:]
    cut = run(script, args("cut"), KILL_STEP="13", KILL_SIGNAL="SIGTERM")
    assert re.search(r"stopped at step 1[34] after writing", cut.stderr), cut.stderr[-3000:]
    resumed = run(script, args("cut"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    reference, state = final_state(tmp_path / "runs" / "full"), final_state(tmp_path / "runs" / "cut")
    assert state.keys() == reference.keys()
    assert all(torch.equal(state[k], reference[k]) for k in reference)
    assert val_rows(tmp_path / "runs" / "cut") == val_rows(tmp_path / "runs" / "full")


def test_a_bad_mixture_is_one_readable_error(tmp_path, corpora):
    from data_modules.errors import DataError

    for mix in ({str(corpora[0]): 0.0}, {str(corpora[0]): 1.0, str(tmp_path / "nope"): 1.0}):
        with pytest.raises(DataError, match="mix|nope"):
            prepared(tmp_path / "cache", mix)
