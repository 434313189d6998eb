"""Batch samplers for tagging: shuffled, length-bucketed, resumable training batches and exact eval shards.

The pipeline runs with `use_distributed_sampler=False` and calls `set_shard(rank, world_size)`, so
these samplers decide what each rank sees. They subclass neither `BatchSampler` nor expose
`drop_last`, so Lightning never tries to rebuild them around its own sampler.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import torch


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class TrainBatchSampler:
    """Batches of sentence indices, reshuffled every epoch from `seed + epoch`.

    With `bucket`, the shuffled sentences are cut into chunks of `chunk_batches` batches, sorted by
    length inside each chunk, and the batches are shuffled again: batches hold sentences of similar
    length (little padding) while the epoch stays random.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int = 0,
        bucket: bool = True,
        chunk_batches: int = 50,
    ):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed, self.bucket, self.chunk_batches = seed, bucket, chunk_batches
        self.rank, self.world_size = 0, 1
        self.epoch = 0
        self.position = 0

    def set_shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this at the start of every epoch; a resumed position is kept for its own epoch."""
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def state_dict(self) -> dict[str, int]:
        """Epoch and batches already yielded on this rank. With DataLoader workers the loader reads ahead of
        training, so a caller that knows how many batches were consumed should save that as `position`."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def epoch_batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch, in order."""
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        if self.bucket:
            batches = []
            for chunk in _chunks(order, self.batch_size * self.chunk_batches):
                chunk.sort(key=lambda i: self.lengths[i])
                batches.extend(_chunks(chunk, self.batch_size))
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        else:
            batches = _chunks(order, self.batch_size)
        # Every rank must run the same number of steps (DDP gradients sync each step), so the batch list is
        # wrapped around to a multiple of the world size: a few batches repeat, no sentence is left out.
        if batches and len(batches) % self.world_size:
            pad = self.world_size - len(batches) % self.world_size
            batches += (batches * pad)[:pad]
        return batches[self.rank :: self.world_size]

    def __len__(self) -> int:
        n = -(-len(self.lengths) // self.batch_size)
        return -(-n // self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.epoch_batches()
        start = self.position
        for i in range(start, len(batches)):
            self.position = i + 1
            yield batches[i]
        # A finished epoch moves on, so iterating again without set_epoch still gives a new order.
        self.epoch, self.position = self.epoch + 1, 0


class EvalBatchSampler:
    """Rank r of W takes sentences r, r + W, r + 2W, ...: every sentence is read exactly once over all ranks,
    with no padding or repeats (unlike DistributedSampler), whatever the split size. With `sort`, a rank's
    sentences are batched by length (less padding; order does not change sums of metrics)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, sort: bool = False):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.sort = sort
        self.rank, self.world_size = 0, 1

    def set_shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def shard(self) -> list[int]:
        ids = list(range(self.rank, len(self.lengths), self.world_size))
        if self.sort:
            ids.sort(key=lambda i: self.lengths[i])
        return ids

    def __len__(self) -> int:
        return -(-len(range(self.rank, len(self.lengths), self.world_size)) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        yield from _chunks(self.shard(), self.batch_size)


def collate(rows: list[dict]) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest sentence L and longest word C.

    Returns `words`, `case`, `tags`, `gold` LongTensor (B, L), `chars` LongTensor (B, L, C),
    `mask` BoolTensor (B, L), `index` LongTensor (B,).

    Characters are scattered into place with one NumPy indexing operation: a tensor per word
    made collation the largest share of the tagger's data-loading time.
    """
    b = len(rows)
    lengths = np.fromiter((len(r["words"]) for r in rows), dtype=np.int64, count=b)
    seq = int(lengths.max(initial=0))
    out = {}
    for k in ("words", "case", "tags", "gold"):
        arr = np.zeros((b, seq), dtype=np.int64)
        for i, r in enumerate(rows):
            arr[i, : lengths[i]] = r[k]
        out[k] = torch.from_numpy(arr)
    words = [c for r in rows for c in r["chars"]]
    word_lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    chars = np.zeros((b, seq, max(int(word_lens.max(initial=0)), 1)), dtype=np.int64)
    if len(words):
        values = np.fromiter(itertools.chain.from_iterable(words), dtype=np.int64, count=int(word_lens.sum()))
        sent = np.repeat(np.arange(b), lengths)  # (W,) sentence of each word
        pos = np.arange(len(words)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # (W,) word position
        which = np.repeat(np.arange(len(words)), word_lens)  # (N,) word of each character
        offset = np.arange(len(values)) - np.repeat(np.cumsum(word_lens) - word_lens, word_lens)
        chars[sent[which], pos[which], offset] = values
    out["chars"] = torch.from_numpy(chars)
    out["mask"] = torch.from_numpy(np.arange(seq)[None, :] < lengths[:, None])
    out["index"] = torch.as_tensor([r["index"] for r in rows], dtype=torch.long)
    return out
