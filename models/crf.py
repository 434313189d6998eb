"""Linear-chain conditional random field (Lafferty et al. 2001) as used by BiLSTM-CRF taggers.

Shapes: B sentences, L positions (left-aligned masks), K tags, n = L - 1 transition steps.

Two formulations of the forward algorithm (log Z) and of Viterbi give the same results:
- the loop: one small step per position (O(L) sequential steps of (B, K, K) work, ~5 kernels each);
- the scan: the steps are (B, n, K, K) matrices combined in the log semiring (log Z, a tree
  reduction) or the max-plus semiring (Viterbi, a Hillis-Steele prefix scan, then backtracking by
  pointer doubling): O(log L) sequential steps of (B, n, K, K, K) work.
The scan does ~K times more arithmetic, which costs more than it saves on a CPU, whose kernels
are cheap to launch (see `CRF.scan`); on a GPU the loop's L-long chain of tiny launches is the cost.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Added to disallowed transitions; large enough to never win, small enough to stay finite in fp32 sums.
FORBIDDEN = -10000.0
# Off-diagonal entries of the scan's identity matrices (padding steps). Finite, unlike -inf, so an
# entry with no path through it gets logsumexp gradient exp(NEG - NEG) * 0 = 0 rather than NaN;
# sums of a few of them stay far inside fp32's range.
NEG = -1e30
# The scans materialise (rows, n, K, K, K) fp32 tensors; rows are processed in chunks of at most
# this many elements (256 MiB) so a 256-sentence evaluation batch of long sentences stays bounded.
MAX_SCAN_ELEMENTS = 1 << 26


class CRF(nn.Module):
    """Transition/start/end scores plus the forward algorithm, gold-path score and Viterbi decoding.

    `allowed` lists permitted (from, to) pairs with index `num_tags` = START and `num_tags + 1` = END
    (as `data_modules.tag_schemes.allowed_transitions` returns them); every other transition gets a fixed
    FORBIDDEN penalty (a hard constraint). None allows everything.
    """

    def __init__(self, num_tags: int, allowed: list[tuple[int, int]] | None = None):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        # One (K+2, K+2) penalty matrix; rows/columns START and END give the start and end penalties.
        penalty = torch.zeros(num_tags + 2, num_tags + 2)
        if allowed is not None:
            penalty.fill_(FORBIDDEN)
            for i, j in allowed:
                penalty[i, j] = 0.0
        self.register_buffer("penalty", penalty)
        self.scan: bool | None = None
        """True/False forces the scan/loop formulation; None picks by device: the scan on CUDA only.
        On one CPU thread (B=32, K=17, L=30/60/120) the scan took 72/178/536 ms for log Z + backward
        against the loop's 8/15/41 (`python -m benchmarks.crf_speed`); on a GPU the loop launches ~5
        kernels per position, the scan ~10 per doubling (`make gpu-check` measures both there)."""

    def _use_scan(self, em: Tensor) -> bool:
        return self.scan if self.scan is not None else em.is_cuda

    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """Constrained (K, K) transitions, (K,) start and (K,) end scores in fp32."""
        k = self.num_tags
        trans = self.transitions.float() + self.penalty[:k, :k]
        start = self.start.float() + self.penalty[k, :k]
        end = self.end.float() + self.penalty[:k, k + 1]
        return trans, start, end

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z per sentence: emissions (B, L, K), mask (B, L) bool -> (B,) fp32 (0 for empty rows)."""
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            em = emissions.float()
            trans, start, end = self._scores()
            if self._use_scan(em):
                alpha = _chunked(_log_alpha_scan, em, mask, trans, start)
            else:
                alpha = _log_alpha_loop(em, mask, trans, start)
            log_z = torch.logsumexp(alpha + end, dim=1)
            return torch.where(mask[:, 0], log_z, torch.zeros_like(log_z))

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Score of the given paths: emissions (B, L, K), tags (B, L), mask (B, L) -> (B,) fp32."""
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            em = emissions.float()
            trans, start, end = self._scores()
            m = mask.float()
            tags = tags * mask.long()  # padding ids could be out of range; they are masked anyway
            emit = em.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, L)
            total = start[tags[:, 0]] * m[:, 0] + (emit * m).sum(1)
            if tags.size(1) > 1:
                total = total + (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
            lengths = mask.long().sum(1)
            last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
            return total + end[last] * m[:, 0]

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Negative log-likelihood per sentence (B,) fp32: log Z - score(gold)."""
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    @torch.no_grad()
    def viterbi(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """Best paths: emissions (B, L, K), mask (B, L) -> LongTensor (B, L) with 0 on padding."""
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            em = emissions.float()
            trans, start, end = self._scores()
            if self._use_scan(em):
                path = _chunked(_viterbi_scan, em, mask, trans, start, end)
            else:
                path = _viterbi_loop(em, mask, trans, start, end)
            return path * mask.long()


def _log_alpha_loop(em: Tensor, mask: Tensor, trans: Tensor, start: Tensor) -> Tensor:
    """Forward variables at each row's last position, one position at a time -> (B, K)."""
    alpha = start + em[:, 0]  # (B, K)
    for t in range(1, em.size(1)):
        # (B, K_from, 1) + (K_from, K_to) + (B, 1, K_to), summed out over K_from
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + em[:, t].unsqueeze(1), dim=1)
        alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
    return alpha


def _viterbi_loop(em: Tensor, mask: Tensor, trans: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """Best paths (B, L), one position at a time (padding not yet zeroed)."""
    b, length, k = em.shape
    identity = torch.arange(k, device=em.device).expand(b, k)
    score = start + em[:, 0]
    backpointers = []
    for t in range(1, length):
        best, idx = (score.unsqueeze(2) + trans + em[:, t].unsqueeze(1)).max(dim=1)
        keep = mask[:, t].unsqueeze(1)
        score = torch.where(keep, best, score)
        # Padding steps point to themselves so backtracking passes through them unchanged.
        backpointers.append(torch.where(keep, idx, identity))
    current = (score + end).argmax(dim=1)  # (B,)
    path = [current]
    for bp in reversed(backpointers):
        current = bp.gather(1, current.unsqueeze(1)).squeeze(1)
        path.append(current)
    path.reverse()
    return torch.stack(path, dim=1)


def _steps(em: Tensor, mask: Tensor, trans: Tensor) -> Tensor:
    """Transition matrices (B, n, K, K): [b, t-1, i, j] = trans[i, j] + em[b, t, j]; identity on padding."""
    k = em.size(2)
    steps = trans + em[:, 1:].unsqueeze(2)
    eye = torch.full((k, k), NEG, device=em.device).fill_diagonal_(0.0)
    return torch.where(mask[:, 1:, None, None], steps, eye)


def _log_matmul(a: Tensor, b: Tensor) -> Tensor:
    """Log-semiring product of (..., K, K) matrices: out[i, j] = logsumexp_k(a[i, k] + b[k, j])."""
    return torch.logsumexp(a.unsqueeze(-1) + b.unsqueeze(-3), dim=-2)


def _max_matmul(a: Tensor, b: Tensor) -> Tensor:
    """Max-plus product of (..., K, K) matrices: out[i, j] = max_k(a[i, k] + b[k, j])."""
    return (a.unsqueeze(-1) + b.unsqueeze(-3)).amax(dim=-2)


def _log_alpha_scan(em: Tensor, mask: Tensor, trans: Tensor, start: Tensor) -> Tensor:
    """The loop's (B, K) result by a tree reduction of the step matrices: ceil(log2 n) rounds."""
    alpha = start + em[:, 0]
    if em.size(1) == 1:
        return alpha
    m = _steps(em, mask, trans)
    while m.size(1) > 1:
        n = m.size(1)
        pair = _log_matmul(m[:, 0 : n - 1 : 2], m[:, 1:n:2])  # neighbours, order kept
        m = torch.cat([pair, m[:, n - 1 :]], dim=1) if n % 2 else pair
    return torch.logsumexp(alpha.unsqueeze(2) + m[:, 0], dim=1)


def _viterbi_scan(em: Tensor, mask: Tensor, trans: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """The loop's paths (B, L) from a max-plus prefix scan and pointer-doubling backtracking."""
    b, length, _ = em.shape
    delta0 = start + em[:, 0]  # (B, K)
    if length == 1:
        return (delta0 + end).argmax(dim=1, keepdim=True)
    prefix, n, d = _steps(em, mask, trans), length - 1, 1
    while d < n:  # Hillis-Steele: prefix[t] = M_1 (x) ... (x) M_{t+1}
        prefix = torch.cat([prefix[:, :d], _max_matmul(prefix[:, :-d], prefix[:, d:])], dim=1)
        d *= 2
    deltas = torch.cat([delta0.unsqueeze(1), (delta0[:, None, :, None] + prefix).amax(dim=2)], 1)  # (B, L, K)
    # Backpointers of every position at once, from the same expression as the loop's.
    bp = (deltas[:, :-1].unsqueeze(3) + trans + em[:, 1:].unsqueeze(2)).max(dim=2).indices  # (B, n, K)
    identity = torch.arange(em.size(2), device=em.device).expand_as(bp)
    maps = torch.where(mask[:, 1:, None], bp, identity)  # maps[t]: tag at t+1 -> tag at t
    d = 1
    while d < n:  # suffix composition: maps[t] becomes tag at L-1 -> tag at t
        maps = torch.cat([maps[:, :-d].gather(2, maps[:, d:]), maps[:, n - d :]], dim=1)
        d *= 2
    last = (deltas[:, -1] + end).argmax(dim=1)  # (B,)
    before = maps.gather(2, last[:, None, None].expand(b, n, 1)).squeeze(2)  # (B, n)
    return torch.cat([before, last.unsqueeze(1)], dim=1)


def _chunked(fn, em: Tensor, mask: Tensor, *scores: Tensor) -> Tensor:
    """fn over row chunks whose (rows, n, K, K, K) scan tensors stay under MAX_SCAN_ELEMENTS."""
    b, length, k = em.shape
    rows = max(1, MAX_SCAN_ELEMENTS // max(1, (length - 1) * k**3))
    if rows >= b:
        return fn(em, mask, *scores)
    return torch.cat([fn(e, m, *scores) for e, m in zip(em.split(rows), mask.split(rows))])
