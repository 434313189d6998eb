"""The classic LSTM-LM batching: a token stream cut into contiguous streams, read in windows of `bptt`.

Row b of window k+1 continues row b of window k, so the model carries its hidden state across
windows. Training cuts `batch_size x world_size` equal streams and drops the remainder (as
PyTorch's word_language_model does); evaluation scores every token exactly once, with a number
of streams that does not depend on the world size, so perplexity is the same on any number of ranks.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset


class StreamWindows(Dataset):
    """Window k of the streams `rows` of a flat token array.

    Item k is a dict: `input` (B, T) int64, `target` (B, T) int64 (the next tokens), `mask`
    (B, T) bool (False on padding), where B = len(rows) padded to `pad_rows` and T <= bptt.
    """

    def __init__(
        self,
        starts: np.ndarray,
        lengths: np.ndarray,
        tokens: np.ndarray,
        bptt: int,
        pad_rows: int,
        longest: int,
    ):
        # `tokens` holds the context token at position 0: stream s reads inputs
        # tokens[starts[s] : starts[s] + lengths[s]] and predicts the token after each.
        self.starts, self.lengths, self.tokens, self.bptt = starts, lengths, tokens, bptt
        self.rows = max(pad_rows, len(starts))
        # `longest` is over all ranks' streams, so every rank yields the same number of windows.
        self.longest = longest
        self.num_windows = math.ceil(longest / bptt)

    def __len__(self) -> int:
        return self.num_windows

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        if not 0 <= k < self.num_windows:
            raise IndexError(k)
        lo = k * self.bptt
        width = min(self.bptt, self.longest - lo)
        inp = np.zeros((self.rows, width), dtype=np.int64)
        tgt = np.zeros((self.rows, width), dtype=np.int64)
        mask = np.zeros((self.rows, width), dtype=bool)
        for b, (start, length) in enumerate(zip(self.starts, self.lengths)):
            n = max(0, min(width, int(length) - lo))
            if n:
                seg = self.tokens[start + lo : start + lo + n + 1]
                inp[b, :n], tgt[b, :n], mask[b, :n] = seg[:-1], seg[1:], True
        return {
            "input": torch.from_numpy(inp),
            "target": torch.from_numpy(tgt),
            "mask": torch.from_numpy(mask),
        }


def train_windows(
    tokens: np.ndarray, batch_size: int, bptt: int, rank: int, world_size: int
) -> StreamWindows:
    """Equal streams, `batch_size` per rank; the tail that does not divide evenly is not trained on.

    `tokens` is the split's ids; stream s covers tokens[s*L : (s+1)*L + 1] (inputs and targets).
    """
    streams = batch_size * world_size
    length = (len(tokens) - 1) // streams
    if length < 1:
        raise ValueError(
            f"The training split has {len(tokens)} tokens, too few for {streams} streams "
            f"(batch_size {batch_size} x {world_size} ranks)."
        )
    mine = np.arange(rank * batch_size, (rank + 1) * batch_size)
    return StreamWindows(mine * length, np.full(batch_size, length), tokens, bptt, batch_size, length)


def eval_windows(
    tokens: np.ndarray, context_id: int, num_streams: int, bptt: int, rank: int, world_size: int
) -> StreamWindows:
    """Every token of the split scored exactly once, over `num_streams` streams shared out among ranks.

    The first token is predicted from `context_id` (the end-of-line token), so the number of
    scored tokens equals the split's token count. Streams differ in length by at most one; rank r
    takes a contiguous block of streams and pads to the same row count as every other rank.
    """
    n = len(tokens)
    with_context = np.concatenate([np.array([context_id], dtype=tokens.dtype), tokens])
    num_streams = max(1, min(num_streams, n))
    lengths = np.full(num_streams, n // num_streams)
    lengths[: n % num_streams] += 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    blocks = np.array_split(np.arange(num_streams), world_size)
    mine = blocks[rank]
    return StreamWindows(
        starts[mine], lengths[mine], with_context, bptt, max(len(b) for b in blocks), int(lengths.max())
    )
