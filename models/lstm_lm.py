"""Word/char/BPE-level LSTM language model (classic word_language_model recipe plus AWD-LSTM dropouts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from models.adaptive_softmax import AdaptiveSoftmax, check_cutoffs, derived_cutoffs
from models.errors import ModelConfigError

Hidden = tuple[Tensor, Tensor]
"""(h, c), each (num_layers, B, hidden_size): the same layout nn.LSTM uses."""


@dataclass
class LMConfig:
    """Architecture and regularisation of the LSTM language model."""

    embedding_size: int = field(default=256, metadata={"min": 1})
    """Size of the token embeddings (and of the decoder input when weights are tied)."""
    hidden_size: int = field(default=256, metadata={"min": 1})
    """Size of every LSTM layer's hidden state; must equal embedding_size when tie_weights is true."""
    num_layers: int = field(default=2, metadata={"min": 1})
    """Number of stacked LSTM layers."""
    dropout: float = field(default=0.2, metadata={"min": 0, "below": 1})
    """Dropout on the last LSTM layer's output, before the decoder."""
    embedding_dropout: float = field(default=0.1, metadata={"min": 0, "below": 1})
    """Dropout on the embedding outputs (plain element-wise dropout)."""
    layer_dropout: float = field(default=0.2, metadata={"min": 0, "below": 1})
    """Dropout between stacked LSTM layers."""
    weight_drop: float = field(default=0.0, metadata={"min": 0, "below": 1})
    """DropConnect probability on the hidden-to-hidden LSTM matrices during training (AWD-LSTM); 0 disables it."""
    tie_weights: bool = True
    """Share the embedding matrix with the output projection (Press & Wolf 2017; Inan et al. 2017)."""
    softmax: Literal["full", "adaptive"] = "full"
    """Output layer: a softmax over the whole vocabulary, or the adaptive softmax (Grave et al. 2017), several
    times faster at 100k+ words and still an exact distribution (needs tie_weights=false)."""
    cutoffs: list[int] | None = None
    """Adaptive softmax cluster boundaries in token ids (= frequency ranks), e.g. [20000, 60000]; None derives
    them from the vocabulary size (5% and 20% of it)."""
    div_value: float = field(default=4.0, metadata={"min": 1})
    """Adaptive softmax: each tail cluster projects the hidden state div_value times smaller than the one before."""
    adaptive_input: bool = False
    """Adaptive input embeddings (Baevski & Auli 2019) tied to the adaptive softmax's clusters: a word's input
    vector is its row of its cluster's output matrix (narrower for rarer clusters), projected back to
    hidden_size; no embedding matrix of its own. Needs softmax=adaptive and embedding_size == hidden_size."""


def flatten_if_needed(lstm: nn.LSTM) -> None:
    """Re-pack a CUDA LSTM's weights into cuDNN's one contiguous buffer when something split them.

    Moving a module packs them, but assigning a weight (`param.data = ...`, `load_state_dict(assign=True)`,
    weight-averaging swaps) leaves separate tensors, and cuDNN then copies every weight on every call
    (with a warning). The check reads host-side pointers only: no kernel, no synchronisation.
    """
    weights = lstm._flat_weights
    if weights and weights[0].is_cuda and len({w.untyped_storage().data_ptr() for w in weights}) > 1:
        lstm.flatten_parameters()


class WeightDropLSTM(nn.Module):
    """One single-layer LSTM whose hidden-to-hidden matrix gets DropConnect while training.

    The raw `weight_hh_l0` stays the only registered Parameter.  The dropped copy is passed to the
    unchanged nn.LSTM forward through `torch.func.functional_call`, which swaps it in for this call
    only and restores the real Parameter afterwards; so nothing is re-registered, the optimizer and
    state_dict see the raw weight, gradients flow to it through the dropout mask, and the fused
    cuDNN/CPU kernel still runs (on CUDA with un-flattened weights, which costs one weight copy,
    inherent to DropConnect anyway).
    """

    def __init__(self, input_size: int, hidden_size: int, weight_drop: float):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=1, batch_first=True)
        self.weight_drop = weight_drop

    def forward(self, x: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        """x (B, T, input_size), hidden (h, c) each (1, B, H) -> output (B, T, H), new hidden."""
        flatten_if_needed(self.lstm)
        if not (self.training and self.weight_drop > 0):
            return self.lstm(x, hidden)
        params = dict(self.lstm.named_parameters())
        params["weight_hh_l0"] = F.dropout(params["weight_hh_l0"], p=self.weight_drop, training=True)
        return functional_call(self.lstm, params, (x, hidden))


class LSTMLanguageModel(nn.Module):
    """Embedding -> stacked LSTM layers -> linear decoder over the vocabulary."""

    def __init__(self, cfg: LMConfig, vocab_size: int):
        super().__init__()
        if cfg.tie_weights and cfg.hidden_size != cfg.embedding_size:
            raise ModelConfigError(
                f"model.tie_weights=true needs model.hidden_size == model.embedding_size, but hidden_size="
                f"{cfg.hidden_size} and embedding_size={cfg.embedding_size}; set both to the same value or "
                f"set model.tie_weights=false"
            )
        if cfg.num_layers < 1:
            raise ModelConfigError(f"model.num_layers must be >= 1, got {cfg.num_layers}")
        if vocab_size < 1:
            raise ModelConfigError(f"vocab_size must be >= 1, got {vocab_size}")
        if cfg.softmax == "adaptive" and cfg.tie_weights:
            raise ModelConfigError(
                "model.softmax=adaptive has its own output layers and cannot share the embedding matrix: "
                "set model.tie_weights=false"
            )
        if cfg.adaptive_input and cfg.softmax != "adaptive":
            raise ModelConfigError(
                "model.adaptive_input=true takes its embeddings from the adaptive softmax's clusters: "
                f"set model.softmax=adaptive (got {cfg.softmax}) or model.adaptive_input=false"
            )
        if cfg.adaptive_input and cfg.embedding_size != cfg.hidden_size:
            raise ModelConfigError(
                "model.adaptive_input=true reads hidden_size-wide vectors from the adaptive softmax: it needs "
                f"model.embedding_size == model.hidden_size (got {cfg.embedding_size} and {cfg.hidden_size})"
            )
        self.cfg = cfg
        self.vocab_size = vocab_size
        # With adaptive input the softmax's clusters are the embeddings (`embed`): no matrix of its own.
        if not cfg.adaptive_input:
            self.encoder = nn.Embedding(vocab_size, cfg.embedding_size)
        self.layers = nn.ModuleList(
            WeightDropLSTM(
                cfg.embedding_size if i == 0 else cfg.hidden_size, cfg.hidden_size, cfg.weight_drop
            )
            for i in range(cfg.num_layers)
        )
        self.embedding_drop = nn.Dropout(cfg.embedding_dropout)
        self.layer_drop = nn.Dropout(cfg.layer_dropout)
        self.output_drop = nn.Dropout(cfg.dropout)
        # Only one of the two output layers exists, so a full-softmax state_dict keeps its old keys.
        if cfg.softmax == "adaptive":
            cuts = cfg.cutoffs or derived_cutoffs(vocab_size)
            cutoffs = check_cutoffs(cuts, vocab_size, cfg.hidden_size, cfg.div_value)
            self.head = AdaptiveSoftmax(cfg.hidden_size, vocab_size, cutoffs, cfg.div_value, head_bias=True)
        else:
            self.decoder = nn.Linear(cfg.hidden_size, vocab_size)
        self._init_weights()
        if cfg.tie_weights:
            self.decoder.weight = self.encoder.weight

    def _init_weights(self) -> None:
        # As in pytorch/examples word_language_model; LSTM weights keep PyTorch's default init.
        if not self.cfg.adaptive_input:
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        if self.cfg.softmax == "full":
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)

    def init_hidden(self, batch_size: int, device: torch.device | str | None = None) -> Hidden:
        """Zero state: (h, c), each (num_layers, batch_size, hidden_size)."""
        shape = (self.cfg.num_layers, batch_size, self.cfg.hidden_size)
        dtype = self.layers[0].lstm.weight_ih_l0.dtype
        return torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype)

    def forward(self, tokens: Tensor, hidden: Hidden | None = None) -> tuple[Tensor, Hidden]:
        """tokens (B, T) -> scores (B, T, V) and the hidden state after the last position.

        The scores are logits (full softmax) or exact float32 log-probabilities (adaptive): either way their
        softmax is the model's next-token distribution. `hidden` is (h, c), each (num_layers, B, hidden_size);
        None means zeros. Training and evaluation use `features` + `token_nll`, which never build (B, T, V)
        for the adaptive softmax.
        """
        x, hidden = self.features(tokens, hidden)
        if self.cfg.softmax == "full":
            return self.decoder(x), hidden
        return self.head.exact(x.reshape(-1, x.size(-1))).view(*x.shape[:-1], self.vocab_size), hidden

    def token_nll(self, x: Tensor, target: Tensor) -> Tensor:
        """features x (B, T, H), target ids (B, T) -> exact per-token NLL (B, T), in float32 (at least)."""
        if self.cfg.softmax == "full":
            logits = self.decoder(x)
            # The loss stays in fp32 whatever the precision plugin: log-softmax over a large vocabulary in bf16
            # loses most of its digits.
            with torch.autocast(device_type=logits.device.type, enabled=False):
                return F.cross_entropy(
                    logits.float().reshape(-1, logits.size(-1)), target.reshape(-1), reduction="none"
                ).view_as(target)
        nll = -self.head.exact(x.reshape(-1, x.size(-1)), target.reshape(-1)).view_as(target)
        return nll + self.head.all_used() if self.training else nll

    def embed(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> input embeddings (B, T, embedding_size), before dropout."""
        return self.head.embed(tokens) if self.cfg.adaptive_input else self.encoder(tokens)

    def features(self, tokens: Tensor, hidden: Hidden | None = None) -> tuple[Tensor, Hidden]:
        """tokens (B, T) -> the output layer's input (B, T, hidden_size) and the hidden state after the last
        position; `hidden` as in forward."""
        if hidden is None:
            hidden = self.init_hidden(tokens.size(0), tokens.device)
        x = self.embedding_drop(self.embed(tokens))
        # A carried state may come from an autocast region (bf16/fp16); match the layer input's dtype so
        # the same state also works outside autocast or with a true-half model.
        h0, c0 = (t.to(x.dtype) for t in hidden)
        hs, cs = [], []
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.layer_drop(x)
            x, (h, c) = layer(x, (h0[i : i + 1], c0[i : i + 1]))
            hs.append(h)
            cs.append(c)
        return self.output_drop(x), (torch.cat(hs, dim=0), torch.cat(cs, dim=0))
