"""CRF against brute-force enumeration of every tag path."""

from __future__ import annotations

import itertools

import pytest
import torch

from models.crf import CRF


def _random_case(seed: int, k: int, lengths: list[int]):
    g = torch.Generator().manual_seed(seed)
    b, length = len(lengths), max(lengths)
    emissions = torch.randn(b, length, k, generator=g)
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    tags = torch.randint(0, k, (b, length), generator=g) * mask
    return emissions, tags, mask


def _random_allowed(seed: int, k: int) -> list[tuple[int, int]]:
    """A random constraint set that keeps every tag reachable: tag 0 ('O') may follow and precede anything."""
    g = torch.Generator().manual_seed(seed)
    start, end = k, k + 1
    pairs = []
    for i in [*range(k), start]:
        for j in [*range(k), end]:
            if i == start and j == end:
                continue
            if i == 0 or j == 0 or i == start or j == end or torch.rand(1, generator=g).item() < 0.5:
                pairs.append((i, j))
    # Forbid a few START/END transitions too, keeping tag 0 as the always-valid choice.
    pairs = [p for p in pairs if not (p[0] == start and p[1] == k - 1 and k > 1)]
    return [p for p in pairs if not (p[1] == end and p[0] == k - 2 and k > 2)]


def _path_score(crf: CRF, em: torch.Tensor, path: tuple[int, ...]) -> float:
    s = crf.start[path[0]] + em[0, path[0]] + crf.end[path[-1]]
    for t in range(1, len(path)):
        s = s + crf.transitions[path[t - 1], path[t]] + em[t, path[t]]
    return float(s)


def _is_allowed(path: tuple[int, ...], allowed: set | None, k: int) -> bool:
    if allowed is None:
        return True
    steps = [(k, path[0]), *zip(path[:-1], path[1:]), (path[-1], k + 1)]
    return all(s in allowed for s in steps)


def _brute_force(crf: CRF, em: torch.Tensor, n: int, allowed: set | None):
    k = crf.num_tags
    scored = [
        (_path_score(crf, em, p), p)
        for p in itertools.product(range(k), repeat=n)
        if _is_allowed(p, allowed, k)
    ]
    log_z = torch.logsumexp(torch.tensor([s for s, _ in scored], dtype=torch.float64), 0).item()
    return log_z, max(scored)[1]


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force(seed: int, constrained: bool):
    k = 1 + seed % 4
    lengths = [4, 1, 3, 2][: 1 + (3 * seed) % 4]
    emissions, _, mask = _random_case(seed, k, lengths)
    allowed = _random_allowed(seed, k) if constrained else None
    torch.manual_seed(seed)
    crf = CRF(k, allowed)
    with torch.no_grad():
        crf.transitions.normal_()
        crf.start.normal_()
        crf.end.normal_()
    log_z = crf.log_partition(emissions, mask)
    best = crf.viterbi(emissions, mask)
    allowed_set = set(allowed) if allowed is not None else None
    for i, n in enumerate(lengths):
        ref_z, ref_path = _brute_force(crf, emissions[i], n, allowed_set)
        assert log_z[i].item() == pytest.approx(ref_z, abs=1e-4)
        assert tuple(best[i, :n].tolist()) == ref_path
        assert best[i, n:].eq(0).all()
        # score() of a path equals the hand-computed sum
        path = torch.tensor(ref_path + (0,) * (mask.size(1) - n)).unsqueeze(0)
        got = crf.score(emissions[i : i + 1], path, mask[i : i + 1]).item()
        assert got == pytest.approx(_path_score(crf, emissions[i], ref_path), abs=1e-4)


def test_nll_nonnegative_and_gradients_flow():
    emissions, tags, mask = _random_case(0, 4, [4, 2, 3, 1])
    emissions.requires_grad_(True)
    crf = CRF(4)
    nll = crf.nll(emissions, tags, mask)
    assert nll.shape == (4,)
    assert (nll >= -1e-5).all()
    nll.sum().backward()
    for p in (crf.transitions, crf.start, crf.end, emissions):
        assert p.grad is not None and p.grad.abs().sum() > 0
    # padded emissions receive no gradient
    assert emissions.grad[1, 2:].abs().sum() == 0


def test_disallowed_gold_path_is_heavily_penalised():
    k = 3
    allowed = [(i, j) for i in [*range(k), k] for j in [*range(k), k + 1] if (i, j) != (0, 1)]
    crf = CRF(k, allowed)
    emissions = torch.zeros(1, 2, k)
    mask = torch.ones(1, 2, dtype=torch.bool)
    assert crf.nll(emissions, torch.tensor([[0, 1]]), mask).item() > 1000
    assert crf.nll(emissions, torch.tensor([[1, 0]]), mask).item() < 10


def test_bf16_emissions_give_fp32_results():
    emissions, tags, mask = _random_case(1, 3, [3, 2])
    crf = CRF(3)
    ref = crf.nll(emissions.bfloat16().float(), tags, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = crf.nll(emissions.bfloat16(), tags, mask)
        path = crf.viterbi(emissions.bfloat16(), mask)
    assert out.dtype == torch.float32
    assert torch.allclose(out, ref, atol=1e-5)
    assert path.dtype == torch.long and path.shape == (2, 3)
