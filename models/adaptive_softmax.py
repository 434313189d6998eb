"""The adaptive softmax output layer (Grave et al. 2017) on top of `torch.nn.AdaptiveLogSoftmaxWithLoss`.

Token ids are frequency ranks (the word-level vocabulary is sorted by count after the special tokens), so
the head holds the most frequent tokens plus one entry per tail cluster, and each tail cluster sees a
smaller projection of the hidden state. It is a proper distribution over the whole vocabulary: the
log-probability of every token is exact, so perplexity stays comparable with the full softmax.

The same clusters can also be the model's input embeddings (adaptive input, Baevski & Auli 2019, with tied
weights and projections): `AdaptiveSoftmax.embed`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from models.errors import ModelConfigError


def derived_cutoffs(vocab_size: int) -> list[int]:
    """Cluster boundaries from the vocabulary size alone: the head holds the first 5% of ranks, the
    first tail cluster up to 20%, the rest the second (for WikiText-103's 267k words: 13k and 53k, near
    the [20000, 60000] of the literature)."""
    cuts = sorted({max(1, vocab_size // 20), max(2, vocab_size // 5)})
    return [c for c in cuts if c < vocab_size]


def check_cutoffs(cutoffs: list[int], vocab_size: int, in_features: int, div_value: float) -> list[int]:
    """The cutoffs as AdaptiveLogSoftmaxWithLoss needs them, or one readable error."""
    cuts = list(cutoffs)
    if not cuts or cuts != sorted(set(cuts)) or cuts[0] < 1 or cuts[-1] >= vocab_size:
        raise ModelConfigError(
            f"model.cutoffs {cuts} must be strictly increasing ids between 1 and the vocabulary size - 1 "
            f"({vocab_size - 1}); leave it unset to derive them from the vocabulary size, or use model.softmax=full"
        )
    if in_features // (div_value ** len(cuts)) < 1:
        raise ModelConfigError(
            f"model.div_value {div_value} leaves the last of {len(cuts)} adaptive softmax clusters no projection "
            f"of the {in_features}-unit hidden state: lower model.div_value or raise model.hidden_size"
        )
    return cuts


class AdaptiveSoftmax(nn.AdaptiveLogSoftmaxWithLoss):
    """One entry point for both uses: forward(x, target) -> log p(target) (N,), forward(x) -> log p (N, V).

    Both are computed in at least float32 whatever the autocast region or the parameters' dtype: the
    cluster log-softmaxes over tens of thousands of words lose most of their digits in bf16.
    """

    def forward(self, x: Tensor, target: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """x (N, in_features), target (N,) or None -> (N,) target log-probabilities or (N, V) all of them."""
        if target is None:
            return self.log_prob(x)
        return super().forward(x, target).output

    def exact(self, x: Tensor, target: Tensor | None = None) -> Tensor:
        """forward() in max(float32, parameter dtype), outside autocast; x (N, in_features)."""
        dtype = torch.promote_types(self.head.weight.dtype, torch.float32)
        args = (x.to(dtype),) if target is None else (x.to(dtype), target)
        with torch.autocast(device_type=x.device.type, enabled=False):
            if self.head.weight.dtype == dtype:
                return self(*args)
            # A true-half model: fp32 copies of the weights for this call only (gradients flow back through them).
            params = {k: v.to(dtype) for k, v in self.named_parameters()}
            return functional_call(self, params, args)

    def all_used(self) -> Tensor:
        """0 that depends on every tail parameter: a cluster no target of a batch falls in is skipped by the
        forward pass, and DDP refuses a step where a parameter got no gradient."""
        return sum(p.reshape(-1)[:1].sum() for p in self.tail.parameters()) * 0.0

    def embed(self, tokens: Tensor) -> Tensor:
        """Adaptive input tied to this softmax: token ids (...) -> embeddings (..., in_features).

        A head word's vector is its row of the head's output matrix (in_features wide). A word of tail cluster
        i is its row of that cluster's output matrix, in_features / div_value**(i+1) wide, mapped back to
        in_features by the transpose of the cluster's projection. So the input side adds no weights at all
        (an embedding matrix of WikiText-103's 267k words x 400 is 107M), and rare words share the small
        cluster vectors the softmax learns for them.

        Every cluster is looked up for every token (ids clamped into its range) and masked, rather than
        gathering each cluster's tokens: no data-dependent shapes, so no wait for the GPU and one ONNX graph;
        the extra work is a (N, d_i) x (d_i, in_features) product per cluster, small beside the LSTM.
        """
        flat = tokens.reshape(-1)
        starts = [0, *self.cutoffs[:-1]]
        rows = [self.head.weight[: self.shortlist_size]] + [t[1].weight for t in self.tail]
        out = None
        for i, (lo, hi, table) in enumerate(zip(starts, self.cutoffs, rows)):
            vec = F.embedding((flat - lo).clamp(0, hi - lo - 1), table)  # (N, d_i)
            if i > 0:
                vec = vec @ self.tail[i - 1][0].weight  # (N, d_i) x (d_i, in_features)
            part = torch.where(((flat >= lo) & (flat < hi)).unsqueeze(-1), vec, vec.new_zeros(()))
            out = part if out is None else out + part
        return out.view(*tokens.shape, self.in_features)
