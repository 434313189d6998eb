"""models/packing.py against torch's own `pack_padded_sequence(enforce_sorted=False)` / `pad_packed_sequence`:
the same LSTM outputs, final states and gradients, for unsorted lengths with ties, one row, full rows."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.packing import pack, unpack


@pytest.mark.parametrize("lengths", [[3, 7, 1, 7, 5, 2], [4], [6, 6, 6], [1, 1, 2]])
def test_pack_unpack_equal_torch(lengths):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    total = max(lengths) + 2
    lens = torch.tensor(lengths)
    x_ref = torch.randn(len(lengths), total, 5, requires_grad=True)
    x_new = x_ref.detach().clone().requires_grad_(True)

    out_ref, (h_ref, _) = lstm(pack_padded_sequence(x_ref, lens, batch_first=True, enforce_sorted=False))
    out_ref, len_ref = pad_packed_sequence(out_ref, batch_first=True, total_length=total)
    out_new, (h_new, _) = lstm(pack(x_new, lens))
    out_new = unpack(out_new, total_length=total)

    torch.testing.assert_close(out_new, out_ref, rtol=0, atol=0)
    torch.testing.assert_close(h_new, h_ref, rtol=0, atol=0)  # final states back in the batch's order
    assert torch.equal(len_ref, lens)
    weights = torch.randn_like(out_ref)
    (out_ref * weights).sum().backward()
    (out_new * weights).sum().backward()
    torch.testing.assert_close(x_new.grad, x_ref.grad, rtol=0, atol=0)
    assert out_new[0, lengths[0] :].abs().sum() == 0  # zeros past a row's length
