"""Tagging batches: sharded samplers (exact, balanced, resumable), bucketing, and packed batches."""

from __future__ import annotations

import random

import datasets
import pytest

from data_modules.resumable import ResumableLoader
from data_modules.tagging.batches import EvalBatchSampler, TrainBatchSampler
from tests.test_tagging_data import module, write_corpus


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path)


@pytest.mark.parametrize("world", [2, 3])
def test_eval_shards_cover_every_sentence_once(tmp_path, corpus, world):
    folder, _ = corpus
    dm = module(tmp_path, path=str(folder), eval_batch_size=4)
    seen = []
    for rank in range(world):
        dm.set_shard(rank, world)
        seen += [i for b in dm.val_dataloader() for i in b["index"].tolist()]
    assert sorted(seen) == list(range(21))


def test_eval_sampler_exact_for_any_size():
    for n in range(12):
        for world in (1, 2, 3, 4):
            got = []
            for rank in range(world):
                s = EvalBatchSampler([(i * 7) % 5 + 1 for i in range(n)], batch_size=2, sort=True)
                s.set_shard(rank, world)
                assert len(list(s)) == len(s)
                got += [i for b in s for i in b]
            assert sorted(got) == list(range(n))


def test_train_shards_have_equal_batch_counts():
    lengths = [random.Random(i).randint(1, 30) for i in range(101)]
    for world in (2, 3, 4):
        counts, covered = set(), set()
        for rank in range(world):
            s = TrainBatchSampler(lengths, batch_size=8, seed=1)
            s.set_shard(rank, world)
            batches = list(s)
            counts.add(len(batches))
            assert len(batches) == len(s)
            covered.update(i for b in batches for i in b)
        assert len(counts) == 1 and covered == set(range(101))


def test_bucketing_reduces_padding():
    lengths = [random.Random(i).randint(1, 60) for i in range(2000)]

    def padding(bucket):
        s = TrainBatchSampler(lengths, batch_size=32, seed=0, bucket=bucket)
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in s)

    assert padding(True) < padding(False) / 5


def test_sampler_resumes_same_order():
    """Resuming goes through the loader's position (ResumableLoader), which skips what was trained on."""
    lengths = list(range(1, 90))
    s = TrainBatchSampler(lengths, batch_size=4, seed=7)
    s.set_epoch(3)
    full = list(s)
    loader = ResumableLoader(list(range(len(lengths))), batch_sampler=s, collate_fn=lambda b: b)
    loader.set_epoch(3)
    it = iter(loader)
    head = [next(it) for _ in range(5)]
    loader.mark(3, 5)
    state = loader.state_dict()
    fresh = TrainBatchSampler(lengths, batch_size=4, seed=7)
    resumed = ResumableLoader(list(range(len(lengths))), batch_sampler=fresh, collate_fn=lambda b: b)
    resumed.load_state_dict(state)
    assert head + list(resumed) == full
    resumed.set_epoch(4)
    assert list(resumed) != full


def test_packed_batches_equal_padded_lists():
    """The vectorised gathers of PackedSentences give exactly the padding a per-sentence loop gives,
    from Arrow (the cached splits) and from lists (sentences to predict) alike."""
    import numpy as np

    from data_modules.tagging.batches import PackedSentences
    from data_modules.tagging.cache import FEATURES

    rng = random.Random(3)
    sents = [
        [[rng.randint(1, 9) for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 8))]
        for _ in range(40)
    ]
    enc = {"chars": sents, "length": [len(s) for s in sents]}
    for k in PackedSentences.WORD_KEYS:
        enc[k] = [[rng.randint(0, 50) for _ in s] for s in sents]
    index = [10 + i for i in range(len(sents))]
    packs = [
        PackedSentences.from_lists(enc, index),
        PackedSentences.from_arrow(
            datasets.Dataset.from_dict(
                enc | {"index": index, "tokens": [["w"] * len(s) for s in sents]}, features=FEATURES
            )
        ),
    ]
    for pack in packs:
        for _ in range(20):
            rows = rng.sample(range(len(sents)), rng.randint(1, 7))
            got = pack.__getitems__(rows)
            seq = max(len(sents[r]) for r in rows)
            width = max(len(w) for r in rows for w in sents[r])
            chars = np.zeros((len(rows), seq, width), dtype=np.int64)
            for b, r in enumerate(rows):
                for t, word in enumerate(sents[r]):
                    chars[b, t, : len(word)] = word
                for k in PackedSentences.WORD_KEYS:
                    assert got[k][b].tolist() == enc[k][r] + [0] * (seq - len(sents[r]))
                assert got["mask"][b].tolist() == [True] * len(sents[r]) + [False] * (seq - len(sents[r]))
            assert np.array_equal(got["chars"].numpy(), chars)
            assert got["index"].tolist() == [index[r] for r in rows]
