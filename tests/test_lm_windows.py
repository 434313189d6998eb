"""LM batches: every evaluation token scored once whatever the world size; training shards are disjoint
contiguous streams; too little training text is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from data_modules.errors import DataError
from data_modules.lm import tokenizer as toks
from tests.test_lm_data import prepared, write_text_folder


def rows_of(loader) -> tuple[list[list[int]], list[list[int]], int]:
    """Per row of a rank's windows: the scored targets and inputs, in order; and the number of windows."""
    inputs, targets, windows = None, None, 0
    for batch in loader:
        windows += 1
        if inputs is None:
            inputs = [[] for _ in range(batch["input"].size(0))]
            targets = [[] for _ in range(batch["input"].size(0))]
        for b in range(batch["input"].size(0)):
            m = batch["mask"][b]
            targets[b] += batch["target"][b][m].tolist()
            inputs[b] += batch["input"][b][m].tolist()
    return inputs, targets, windows


@pytest.mark.parametrize("world_size", [1, 2, 3])
@pytest.mark.parametrize("split", ["validation", "test"])
def test_every_evaluation_token_is_scored_once(tmp_path, lm_corpus, world_size, split):
    dm = prepared(tmp_path / "cache", path=str(lm_corpus), bptt=17)
    ids = np.asarray(dm.ids[split]).tolist()
    eos = dm.tokenizer.token_to_id(toks.EOS)
    for streams in (7, 11, 2):
        if streams != 2:
            assert len(ids) % streams, "pick stream counts that do not divide the split"
        dm.cfg.eval_batch_size = streams
        scored, shapes, per_rank_targets = 0, set(), []
        for rank in range(world_size):
            dm.set_shard(rank, world_size)
            loader = dm.val_dataloader() if split == "validation" else dm.test_dataloader()
            inputs, targets, windows = rows_of(loader)
            shapes.add((windows, len(targets)))
            scored += sum(len(t) for t in targets)
            per_rank_targets += targets
            for inp, tgt in zip(inputs, targets):
                assert inp[1:] == tgt[:-1]  # each row continues itself from window to window
        # Ranks must agree on the number of batches and rows (DDP), even a rank that holds no stream.
        assert len(shapes) == 1
        assert scored == dm.num_tokens(split) == len(ids)
        # Rows of ranks 0..W-1 in order are consecutive pieces of the split: every token once, in order.
        assert sum(per_rank_targets, []) == ids
        dm.set_shard(0, 1)
        first_inputs, _, _ = rows_of(dm.test_dataloader() if split == "test" else dm.val_dataloader())
        assert first_inputs[0][0] == eos  # the first token is predicted after an end of line


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_train_shards_are_disjoint_contiguous_streams(tmp_path, lm_corpus, world_size):
    dm = prepared(tmp_path / "cache", path=str(lm_corpus), batch_size=4, bptt=13)
    ids = np.asarray(dm.ids["train"]).tolist()
    spans, windows = [], set()
    for rank in range(world_size):
        dm.set_shard(rank, world_size)
        loader = dm.train_dataloader()
        ds = loader.dataset
        inputs, targets, n = rows_of(loader)
        windows.add(n)
        assert len(inputs) == 4
        for b, (start, length) in enumerate(zip(ds.starts.tolist(), ds.lengths.tolist())):
            assert inputs[b] == ids[start : start + length]
            assert targets[b] == ids[start + 1 : start + length + 1]
            spans.append((start, start + length))
    assert len(windows) == 1
    spans.sort()
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    # Only the tail that does not divide into 4 x world_size equal streams is left out.
    assert len(ids) - 1 - (spans[-1][1] - spans[0][0]) < 4 * world_size


def test_too_few_training_tokens_is_a_clear_error(tmp_path):
    folder = write_text_folder(tmp_path / "txt", {"train": ["a b"], "validation": ["a"], "test": ["b"]})
    # Found while the data is prepared (issue 12: degenerate data fails before any model exists).
    with pytest.raises(DataError, match="fewer than one batch needs"):
        prepared(tmp_path / "cache", path=str(folder), batch_size=8)
