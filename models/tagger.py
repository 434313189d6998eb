"""BiLSTM sequence tagger with a CRF or softmax head (Huang et al. 2015; Lample et al. 2016; Ma & Hovy 2016).

Batches are the tagging dicts of the contract: words (B, L), chars (B, L, C), case (B, L), tags (B, L),
mask (B, L) bool (left-aligned). K = number of tags in the training scheme.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.char_encoder import CharBiLSTM, CharCNN
from models.crf import CRF
from models.errors import ModelConfigError
from models.lstm_lm import flatten_if_needed
from models.packing import pack, unpack


@dataclass
class TaggerConfig:
    """Architecture of the BiLSTM tagger."""

    word_embedding_size: int = field(default=100, metadata={"min": 1})
    """Size of the word embeddings (must equal the dimension of pretrained word vectors when given)."""
    char_encoder: Literal["cnn", "lstm", "none"] = "cnn"
    """Character-level word encoder: CNN + max-pool (Ma & Hovy), BiLSTM (Lample et al.) or none."""
    char_embedding_size: int = field(default=30, metadata={"min": 1})
    """Size of the character embeddings."""
    char_hidden_size: int = field(default=30, metadata={"min": 1})
    """Number of CNN filters (cnn) or hidden units per direction (lstm) of the character encoder."""
    char_kernel_size: int = field(default=3, metadata={"min": 1})
    """Width of the character convolution (cnn only)."""
    use_case_features: bool = False
    """Embed the casing class of each word (lower/upper/title/digit/other) and append it to the word vector."""
    case_embedding_size: int = field(default=10, metadata={"min": 1})
    """Size of the casing-class embedding (when use_case_features)."""
    hidden_size: int = field(default=200, metadata={"min": 1})
    """Hidden units per direction of the word-level BiLSTM."""
    num_layers: int = field(default=1, metadata={"min": 1})
    """Number of stacked word-level BiLSTM layers."""
    dropout: float = field(default=0.5, metadata={"min": 0, "below": 1})
    """Dropout on the character embeddings, the BiLSTM input and the BiLSTM output."""
    word_dropout: float = field(default=0.05, metadata={"min": 0, "below": 1})
    """Probability of replacing a word id by <unk> during training, so the <unk> embedding is learned."""
    head: Literal["crf", "softmax"] = "crf"
    """Output layer: a linear-chain CRF (sentence-level NLL, Viterbi) or independent per-token softmax."""
    constraints: bool = True
    """Forbid transitions the tagging scheme does not allow (e.g. O -> I-PER in IOB2); CRF head only."""
    lm_embeddings: list[str] = field(default_factory=list)
    """Language-model checkpoints of this pipeline (char or word, either direction) whose states are word features
    (models/lm_features.py), appended to the word, char and case embeddings; they travel in the tagger checkpoint."""
    lm_finetune: bool = False
    """Train the language models' weights with the tagger; false: frozen, features computed once per split."""


class BiLSTMTagger(nn.Module):
    """Word (+ char, + case) embeddings -> BiLSTM -> linear emissions -> CRF or softmax."""

    def __init__(
        self,
        cfg: TaggerConfig,
        word_vocab_size: int,
        char_vocab_size: int,
        num_tags: int,
        allowed: list[tuple[int, int]] | None = None,
        word_vectors: Tensor | None = None,
        *,
        unk_id: int,
        num_case_classes: int,
        lm_feature_size: int = 0,
    ):
        """`unk_id` (the word id word dropout substitutes) and `num_case_classes` (padding included) come from
        the data's vocabulary, which alone knows them. `lm_feature_size`: width D of the batch's `lm` features."""
        super().__init__()
        if cfg.char_encoder not in ("cnn", "lstm", "none"):
            raise ModelConfigError(
                f"model.char_encoder: expected cnn, lstm or none, got {cfg.char_encoder!r}"
            )
        if cfg.head not in ("crf", "softmax"):
            raise ModelConfigError(f"model.head: expected crf or softmax, got {cfg.head!r}")
        if not 0.0 <= cfg.word_dropout < 1.0 or not 0.0 <= cfg.dropout < 1.0:
            raise ModelConfigError(
                f"model.dropout={cfg.dropout}, model.word_dropout={cfg.word_dropout}: must be in [0, 1)"
            )
        self.cfg = cfg
        self.unk_id = unk_id
        self.word_embedding = nn.Embedding(word_vocab_size, cfg.word_embedding_size, padding_idx=0)
        if word_vectors is not None:
            expected = (word_vocab_size, cfg.word_embedding_size)
            if tuple(word_vectors.shape) != expected:
                raise ModelConfigError(
                    f"word vectors have shape {tuple(word_vectors.shape)} but the model needs {expected} "
                    f"(word vocabulary size, model.word_embedding_size)"
                )
            with torch.no_grad():
                self.word_embedding.weight.copy_(word_vectors)
        input_size = cfg.word_embedding_size
        self.char_encoder: nn.Module | None = None
        if cfg.char_encoder == "cnn":
            self.char_encoder = CharCNN(
                char_vocab_size,
                cfg.char_embedding_size,
                cfg.char_hidden_size,
                cfg.char_kernel_size,
                cfg.dropout,
            )
        elif cfg.char_encoder == "lstm":
            self.char_encoder = CharBiLSTM(
                char_vocab_size, cfg.char_embedding_size, cfg.char_hidden_size, cfg.dropout
            )
        if self.char_encoder is not None:
            input_size += self.char_encoder.output_size
        self.case_embedding = None
        if cfg.use_case_features:
            self.case_embedding = nn.Embedding(num_case_classes, cfg.case_embedding_size, padding_idx=0)
            input_size += cfg.case_embedding_size
        input_size += lm_feature_size
        self.dropout = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(
            input_size,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
        )
        self.output = nn.Linear(2 * cfg.hidden_size, num_tags)
        self.crf = CRF(num_tags, allowed if cfg.constraints else None) if cfg.head == "crf" else None

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        """Per-token tag scores (B, L, K).

        `batch["lengths"]` (B,) int64 on the CPU, when the caller computed it before moving the batch to the
        GPU, spares a device-to-host copy (a synchronisation) per batch: packing needs host-side lengths.
        `batch["char_lengths"]` (B, L) does the same for the char BiLSTM.
        """
        words, mask = batch["words"], batch["mask"]
        if self.training and self.cfg.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.cfg.word_dropout
            words = words.masked_fill(drop & mask, self.unk_id)
        features = [self.word_embedding(words)]
        if self.char_encoder is not None:
            features.append(self.char_encoder(batch["chars"], batch.get("char_lengths")))
        if self.case_embedding is not None:
            features.append(self.case_embedding(batch["case"]))
        if "lm" in batch:  # (B, L, D) language-model features
            features.append(batch["lm"])
        x = self.dropout(torch.cat([f.to(features[0].dtype) for f in features], dim=-1))
        # Rows of a fully padded batch slot still need length >= 1 for packing; their output is masked.
        lengths = batch.get("lengths")
        if lengths is None or lengths.is_cuda:
            lengths = mask.long().sum(dim=1).cpu()
        lengths = lengths.clamp(min=1)
        flatten_if_needed(self.lstm)
        out, _ = self.lstm(pack(x, lengths))
        out = unpack(out, total_length=words.size(1))
        return self.output(self.dropout(out))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Scalar fp32 loss: CRF NLL summed over sentences / number of sentences, or mean token cross-entropy."""
        emissions = self.emissions(batch)
        mask, tags = batch["mask"], batch["tags"]
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            if self.crf is not None:
                num_sentences = mask[:, 0].sum().clamp(min=1)
                return self.crf.nll(emissions, tags, mask).sum() / num_sentences
            logits = emissions.float()[mask]
            if logits.numel() == 0:
                return emissions.float().sum() * 0.0
            return F.cross_entropy(logits, tags[mask])

    @torch.no_grad()
    def decode(self, batch: dict[str, Tensor]) -> Tensor:
        """Best tag ids (B, L) in the training scheme, 0 on padding."""
        emissions = self.emissions(batch)
        mask = batch["mask"]
        if self.crf is not None:
            return self.crf.viterbi(emissions, mask)
        return emissions.float().argmax(dim=-1) * mask.long()
