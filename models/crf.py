"""Linear-chain conditional random field (Lafferty et al. 2001) as used by BiLSTM-CRF taggers.

Shapes: B sentences, L positions (left-aligned masks), K tags.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Added to disallowed transitions; large enough to never win, small enough to stay finite in fp32 sums.
FORBIDDEN = -10000.0


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
            alpha = start + em[:, 0]  # (B, K)
            for t in range(1, em.size(1)):
                # (B, K_from, 1) + (K_from, K_to) + (B, 1, K_to), summed out over K_from
                nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + em[:, t].unsqueeze(1), dim=1)
                alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
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
            return torch.stack(path, dim=1) * mask.long()
