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

from data_modules.tagging.lm_inputs import lm_batch


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _batches(items: list[int], lengths: Sequence[int], size: int, max_tokens: int | None) -> list[list[int]]:
    """`items` cut in order into batches of at most `size` sentences and, with `max_tokens`, at most that many
    padded tokens (sentences x longest); a sentence longer than `max_tokens` is a batch of its own."""
    if not max_tokens:
        return _chunks(items, size)
    out: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for i in items:
        longest_with = max(longest, lengths[i])
        if batch and (len(batch) == size or (len(batch) + 1) * longest_with > max_tokens):
            out.append(batch)
            batch, longest_with = [], lengths[i]
        batch.append(i)
        longest = longest_with
    return out + [batch] if batch else out


class TrainBatchSampler:
    """Batches of sentence indices, reshuffled every epoch from `seed + epoch`.

    With `bucket`, the shuffled sentences are cut into chunks of `chunk_batches` batches, sorted by
    length inside each chunk, and the batches are shuffled again: batches hold sentences of similar
    length (little padding) while the epoch stays random. With `max_tokens`, the whole split is sorted by
    length (ties in the epoch's random order), packed, and the batches shuffled (as fairseq does): the
    number of batches is then the same every epoch, which Lightning's epoch length needs.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int = 0,
        bucket: bool = True,
        max_tokens: int | None = None,
        chunk_batches: int = 50,
    ):
        self.lengths = list(lengths)
        self.batch_size, self.max_tokens = batch_size, max_tokens
        self.seed, self.bucket, self.chunk_batches = seed, bucket, chunk_batches
        self.rank, self.world_size = 0, 1
        self.epoch = 0
        # Lightning asks len() several times an epoch; packing a large split costs ~0.1 s, so it runs once.
        self._memo: tuple[tuple[int, int, int], list[list[int]]] | None = None

    def set_shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        """The epoch decides the order; the position inside it is the loader's (data_modules/resumable.py)."""
        self.epoch = epoch

    def epoch_batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch, in order."""
        key = (self.epoch, self.rank, self.world_size)
        if self._memo is None or self._memo[0] != key:
            self._memo = (key, self._epoch_batches())
        return self._memo[1]

    def _epoch_batches(self) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        if (
            self.max_tokens
        ):  # sorted (stable: equal lengths stay shuffled), so the packing's count never changes
            order.sort(key=lambda i: self.lengths[i])
            batches = _batches(order, self.lengths, self.batch_size, self.max_tokens)
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        elif self.bucket:
            batches = []
            for chunk in _chunks(order, self.batch_size * self.chunk_batches):
                chunk.sort(key=lambda i: self.lengths[i])
                batches.extend(_batches(chunk, self.lengths, self.batch_size, self.max_tokens))
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        else:
            batches = _batches(order, self.lengths, self.batch_size, self.max_tokens)
        # Every rank must run the same number of steps (DDP gradients sync each step), so the batch list is
        # wrapped around to a multiple of the world size: a few batches repeat, no sentence is left out.
        if batches and len(batches) % self.world_size:
            pad = self.world_size - len(batches) % self.world_size
            batches += (batches * pad)[:pad]
        return batches[self.rank :: self.world_size]

    def __len__(self) -> int:
        if self.max_tokens:  # the same count every epoch (see the class docstring)
            return len(self.epoch_batches())
        n = -(-len(self.lengths) // self.batch_size)
        return -(-n // self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.epoch_batches()
        # A finished epoch moves on, so iterating again without set_epoch still gives a new order.
        self.epoch += 1


class EvalBatchSampler:
    """Rank r of W takes sentences r, r + W, r + 2W, ...: every sentence is read exactly once over all ranks,
    with no padding or repeats (unlike DistributedSampler), whatever the split size. With `sort`, a rank's
    sentences are batched by length (less padding; order does not change sums of metrics)."""

    def __init__(
        self, lengths: Sequence[int], batch_size: int, sort: bool = False, max_tokens: int | None = None
    ):
        self.lengths = list(lengths)
        self.batch_size, self.max_tokens = batch_size, max_tokens
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
        if self.max_tokens:
            return len(_batches(self.shard(), self.lengths, self.batch_size, self.max_tokens))
        return -(-len(range(self.rank, len(self.lengths), self.world_size)) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        yield from _batches(self.shard(), self.lengths, self.batch_size, self.max_tokens)


class PackedSentences:
    """Encoded sentences as flat NumPy arrays; `batch(indices)` pads a batch with a few vectorised gathers.

    `DataLoader` calls `__getitems__` with a whole batch of indices, so a batch never goes through
    Python lists: converting Arrow rows to lists of lists per sentence, then padding them back into
    arrays, was the largest share of the tagger's input time.
    """

    WORD_KEYS = ("words", "case", "tags", "gold")

    def __init__(self, columns: dict[str, np.ndarray], char_offsets: np.ndarray):
        """`columns`: `length`, `index` (S,); `words`, `case`, `tags`, `gold` (total words,); `chars` (total chars,).
        `char_offsets` (total words + 1,): word w's characters are chars[char_offsets[w]:char_offsets[w + 1]]."""
        self.columns, self.char_offsets = columns, char_offsets
        self.lengths = columns["length"]
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.features: np.ndarray | None = None  # (total words, D) frozen LM features, served as `lm`
        self.lm_sentences: tuple[list, list] | None = None  # (tokens per sentence, LM specs): LM inputs

    @classmethod
    def from_arrow(cls, ds) -> PackedSentences:
        """From an encoded `datasets.Dataset` without an indices mapping (a saved cache split): its Arrow table
        is read column by column, without row objects."""
        table = ds.data

        def flat(name: str, depth: int) -> np.ndarray:
            col = table.column(name).combine_chunks()
            for _ in range(depth):
                col = col.flatten()
            return col.to_numpy(zero_copy_only=False).astype(np.int64)

        chars = table.column("chars").combine_chunks().flatten()  # one entry per word
        lens = np.diff(chars.offsets.to_numpy()).astype(np.int64)
        columns = {k: flat(k, 1) for k in cls.WORD_KEYS} | {k: flat(k, 0) for k in ("length", "index")}
        columns["chars"] = chars.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
        return cls(columns, np.concatenate([[0], np.cumsum(lens)]))

    @classmethod
    def from_lists(cls, enc: dict[str, list], index: list[int]) -> PackedSentences:
        """From `TaggingVocab.encode` output (lists per sentence), for sentences given in memory."""
        words = [w for s in enc["chars"] for w in s]
        lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        columns = {
            k: np.fromiter(itertools.chain.from_iterable(enc[k]), dtype=np.int64) for k in cls.WORD_KEYS
        }
        columns["chars"] = np.fromiter(
            itertools.chain.from_iterable(words), dtype=np.int64, count=int(lens.sum())
        )
        columns["length"] = np.asarray(enc["length"], dtype=np.int64)
        columns["index"] = np.asarray(index, dtype=np.int64)
        return cls(columns, np.concatenate([[0], np.cumsum(lens)]))

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.batch([i])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return self.batch(indices)

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """Pad sentences `indices` to the longest sentence L and longest word C.

        Returns `words`, `case`, `tags`, `gold` LongTensor (B, L), `chars` LongTensor (B, L, C),
        `mask` BoolTensor (B, L), `index` LongTensor (B,); with LMs, `lm` (B, L, D) cached features or the LMs'
        inputs (`lm_inputs.lm_batch`).
        """
        rows = np.asarray(indices, dtype=np.int64)
        b = len(rows)
        lengths = self.lengths[rows]
        seq = int(lengths.max(initial=0))
        sent = np.repeat(np.arange(b), lengths)  # (W,) batch row of each word
        pos = np.arange(len(sent)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # (W,) position in it
        src = np.repeat(self.starts[rows], lengths) + pos  # (W,) word index in the flat arrays
        out = {}
        for k in self.WORD_KEYS:
            arr = np.zeros((b, seq), dtype=np.int64)
            arr[sent, pos] = self.columns[k][src]
            out[k] = torch.from_numpy(arr)
        begin = self.char_offsets[src]
        word_lens = self.char_offsets[src + 1] - begin  # (W,)
        chars = np.zeros((b, seq, max(int(word_lens.max(initial=0)), 1)), dtype=np.int64)
        which = np.repeat(np.arange(len(src)), word_lens)  # (N,) word of each character
        offset = np.arange(len(which)) - np.repeat(np.cumsum(word_lens) - word_lens, word_lens)  # (N,)
        chars[sent[which], pos[which], offset] = self.columns["chars"][begin[which] + offset]
        out["chars"] = torch.from_numpy(chars)
        out["mask"] = torch.from_numpy(np.arange(seq)[None, :] < lengths[:, None])
        out["index"] = torch.from_numpy(self.columns["index"][rows])
        if self.features is not None:  # (B, L, D)
            feats = np.zeros((b, seq, self.features.shape[1]), dtype=np.float32)
            feats[sent, pos] = self.features[src]
            out["lm"] = torch.from_numpy(feats)
        if self.lm_sentences is not None:
            out |= lm_batch([self.lm_sentences[0][r] for r in rows], self.lm_sentences[1])
        return out


def whole_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`collate_fn` for `PackedSentences`: its `__getitems__` already returns the padded batch."""
    return batch
