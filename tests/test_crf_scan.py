"""The CRF's scan formulation (log-semiring reduction, max-plus prefix scan) against its loop (the oracle)."""

from __future__ import annotations

import pytest
import torch

from models import crf as crf_mod
from models.crf import CRF
from tests.test_crf import _random_allowed


def _case(seed: int, k: int, lengths: list[int], scale: float = 3.0):
    """Emissions (B, L, K) with large spreads (so a naive exp-space product would underflow), mask (B, L)."""
    g = torch.Generator().manual_seed(seed)
    length = max(max(lengths), 1)
    emissions = scale * torch.randn(len(lengths), length, k, generator=g)
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    tags = torch.randint(0, k, (len(lengths), length), generator=g) * mask
    return emissions, tags, mask


def _pair(k: int, constrained: bool, seed: int = 0) -> tuple[CRF, CRF]:
    torch.manual_seed(seed)
    loop = CRF(k, _random_allowed(seed, k) if constrained else None)
    with torch.no_grad():  # transitions as spread out as trained ones
        loop.transitions.mul_(30)
    scan = CRF(k, _random_allowed(seed, k) if constrained else None)
    scan.load_state_dict(loop.state_dict())
    loop.scan, scan.scan = False, True
    return loop, scan


CASES = [
    (5, [1]),
    (5, [1, 1, 1]),
    (9, [2, 1, 7, 3]),
    (9, [16, 16, 16]),
    (17, [60, 33, 1, 59, 17, 2]),
    (20, [120, 97, 64, 5]),
    (4, [13, 0, 8, 0]),  # empty rows, as a padded batch slot has
    (6, [0, 0]),
]


@pytest.mark.parametrize("constrained", [False, True], ids=["free", "constrained"])
@pytest.mark.parametrize(("k", "lengths"), CASES)
def test_log_partition_and_gradients_equal(k, lengths, constrained):
    loop, scan = _pair(k, constrained)
    em, tags, mask = _case(k + len(lengths), k, lengths)
    results = []
    for model in (loop, scan):
        e = em.clone().requires_grad_(True)
        nll = model.nll(e, tags, mask)
        nll.sum().backward()
        results.append((nll.detach(), e.grad, model.transitions.grad))
    (z1, ge1, gt1), (z2, ge2, gt2) = results
    torch.testing.assert_close(z2, z1, rtol=1e-5, atol=1e-3)
    # Gradients are marginals in [0, 1] minus gold indicators: log Z near 1e3 carries ~1e-4 of fp32
    # round-off whichever way it is summed, and the marginals inherit it.
    torch.testing.assert_close(ge2, ge1, rtol=1e-4, atol=3e-4)
    if gt1 is not None:  # None when no sentence has a transition (all lengths <= 1)
        torch.testing.assert_close(gt2, gt1, rtol=1e-4, atol=3e-3)
    assert torch.isfinite(ge2).all()


@pytest.mark.parametrize("constrained", [False, True], ids=["free", "constrained"])
@pytest.mark.parametrize(("k", "lengths"), CASES)
def test_viterbi_equal(k, lengths, constrained):
    loop, scan = _pair(k, constrained)
    em, _, mask = _case(100 + k, k, lengths)
    torch.testing.assert_close(scan.viterbi(em, mask), loop.viterbi(em, mask), rtol=0, atol=0)


def test_viterbi_ties_decoded_like_the_loop():
    """Integer scores make exact ties common; both formulations sum them exactly, so they pick the same path."""
    loop, scan = _pair(6, constrained=False)
    with torch.no_grad():
        for p in (loop.transitions, loop.start, loop.end):
            p.copy_(torch.randint(-2, 3, p.shape).float())
    scan.load_state_dict(loop.state_dict())
    g = torch.Generator().manual_seed(3)
    em = torch.randint(-2, 3, (16, 25, 6), generator=g).float()
    mask = torch.arange(25).unsqueeze(0) < torch.randint(0, 26, (16, 1), generator=g)
    torch.testing.assert_close(scan.viterbi(em, mask), loop.viterbi(em, mask), rtol=0, atol=0)


def test_chunked_rows_give_the_same_result(monkeypatch):
    loop, scan = _pair(9, constrained=True)
    em, tags, mask = _case(7, 9, [30, 12, 1, 29, 0, 30, 18])
    whole_z, whole_path = scan.nll(em, tags, mask), scan.viterbi(em, mask)
    monkeypatch.setattr(crf_mod, "MAX_SCAN_ELEMENTS", 2 * 29 * 9**3)  # two rows per chunk
    torch.testing.assert_close(scan.nll(em, tags, mask), whole_z)
    torch.testing.assert_close(scan.viterbi(em, mask), whole_path)
    torch.testing.assert_close(loop.viterbi(em, mask), whole_path)


def test_default_formulation_follows_the_device():
    crf = CRF(3)
    assert crf.scan is None and not crf._use_scan(torch.zeros(1, 1, 3))
