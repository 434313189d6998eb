"""Packing padded batches for an LSTM without the host waiting for the GPU.

`torch.nn.utils.rnn.pack_padded_sequence(..., enforce_sorted=False)` sorts the host-side lengths and copies the
order to the device with a blocking copy, and `pad_packed_sequence` copies the inverse order back to the host
(`unsorted_indices.cpu()`): two synchronisations per call on a GPU (seen by `benchmarks/gpu_syncs.py` on an
H200: the tagger's only syncs in its own code). Here both orders are computed on the host, where the lengths
already are, and reach the device through pinned memory without blocking; the packed data is torch's own.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def _to(t: Tensor, device: torch.device) -> Tensor:
    if device.type != "cuda":
        return t
    return t.pin_memory().to(device, non_blocking=True)


def pack(x: Tensor, lengths: Tensor) -> PackedSequence:
    """x (B, L, D) batch-first, lengths (B,) int64 on the CPU, each >= 1 -> a PackedSequence that remembers the
    batch order (as `pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)`)."""
    lengths, order = torch.sort(lengths, descending=True)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel())
    order, inverse = _to(order, x.device), _to(inverse, x.device)
    packed = pack_padded_sequence(x.index_select(0, order), lengths, batch_first=True, enforce_sorted=True)
    return PackedSequence(packed.data, packed.batch_sizes, order, inverse)


def unpack(packed: PackedSequence, total_length: int) -> Tensor:
    """The inverse of `pack` for an LSTM's output: (B, total_length, H) in the batch's own order, zeros past
    each row's length (as `pad_packed_sequence(..., batch_first=True)[0]`)."""
    padded, _ = pad_packed_sequence(
        PackedSequence(packed.data, packed.batch_sizes), batch_first=True, total_length=total_length
    )
    return padded.index_select(0, packed.unsorted_indices)
