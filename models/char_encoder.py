"""Character-level word encoders: a CNN (Ma & Hovy 2016) and a BiLSTM (Lample et al. 2016).

Both map char ids (B, L, C) (0 = padding) to one vector per word (B, L, D); words without characters
(padding positions) get a zero vector.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.packing import pack


class CharCNN(nn.Module):
    """Char embeddings -> dropout -> 1-D convolution -> max-pool over the characters of each word."""

    def __init__(
        self,
        num_chars: int,
        embedding_size: int = 30,
        num_filters: int = 30,
        kernel_size: int = 3,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embedding_size, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(embedding_size, num_filters, kernel_size, padding=kernel_size // 2)
        self.output_size = num_filters

    def forward(self, chars: Tensor, char_lengths: Tensor | None = None) -> Tensor:
        """chars (B, L, C) -> (B, L, num_filters). `char_lengths` is not needed: the mask stays on the device."""
        b, length, c = chars.shape
        flat = chars.reshape(b * length, c)
        x = self.dropout(self.embedding(flat)).transpose(1, 2)  # (N, E, C)
        h = self.conv(x)  # (N, F, C') with C' == C for odd kernels
        h = h[:, :, :c]
        char_mask = (flat != 0).unsqueeze(1)  # (N, 1, C)
        # Padding chars must not win the max; words with no chars at all end up as zeros.
        h = h.masked_fill(~char_mask, float("-inf")).max(dim=2).values
        h = h.masked_fill(~char_mask.any(dim=2), 0.0)
        return h.reshape(b, length, -1)


class CharBiLSTM(nn.Module):
    """Char embeddings -> BiLSTM over each word; output is the final forward and backward states concatenated."""

    def __init__(self, num_chars: int, embedding_size: int = 25, hidden_size: int = 25, dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embedding_size, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, chars: Tensor, char_lengths: Tensor | None = None) -> Tensor:
        """chars (B, L, C) -> (B, L, 2 * hidden_size).

        `char_lengths` (B, L) int64 on the CPU, the number of chars of each word, when the caller counted
        them before moving the batch to the GPU: packing needs host-side lengths, and picking the words
        that have chars needs them too, so with it a step reads nothing back from the GPU (a
        synchronisation). Without it they are counted here.
        """
        b, length, c = chars.shape
        flat = chars.reshape(b * length, c)
        if char_lengths is None or char_lengths.device.type != "cpu":
            char_lengths = (flat != 0).sum(dim=1).cpu()
        lengths = char_lengths.reshape(b * length)
        out = flat.new_zeros((b * length, self.output_size), dtype=self.embedding.weight.dtype)
        keep = lengths.nonzero().squeeze(1)  # on the host: no sync
        if len(keep):
            words = flat.index_select(0, keep.to(flat.device, non_blocking=True))
            x = self.dropout(self.embedding(words))
            # Packing makes the final states those of the last real char, not of trailing padding.
            packed = pack(x, lengths[keep])
            _, (h_n, _) = self.lstm(packed)  # (2, N', H): forward then backward direction
            states = torch.cat([h_n[0], h_n[1]], dim=1)
            out = out.to(states.dtype).index_copy(0, keep.to(out.device, non_blocking=True), states)
        return out.reshape(b, length, -1)
