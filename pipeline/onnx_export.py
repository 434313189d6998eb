"""ONNX graphs of the trained networks, for `python -m pipeline export --format onnx` (run by pipeline/onnx_runtime.py).

- tagger: `emissions.onnx`, words/chars/case (B, L[, C]) int64 + lengths (B,) int64 -> emissions (B, L, K) float32,
  dynamic batch, length and word length; the CRF's constrained transition/start/end scores go to `crf.npz`.
- LM: `lm_step.onnx`, tokens (B, T) int64 + h, c (num_layers, B, H) -> log_probs (B, T, V), h, c.

The tagger's PyTorch forward packs its sequences (pack_padded_sequence), which the ONNX exporters do not
translate for a bidirectional LSTM with unsorted lengths. `Emissions` below computes the same function on the
padded batch instead: each direction is a one-directional LSTM with the trained weights, and the backward one
reads every sentence (word) reversed within its own length, so padding never reaches a real position.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from models.char_encoder import CharBiLSTM, CharCNN
from models.lstm_lm import LSTMLanguageModel
from models.tagger import BiLSTMTagger
from pipeline.checkpoints import Saved
from pipeline.errors import PipelineError

OPSET = 17


def _direction(lstm: nn.LSTM, layer: int, suffix: str) -> nn.LSTM:
    """One direction of one layer of `lstm` as a one-layer, one-direction LSTM with the same weights."""
    one = nn.LSTM(lstm.input_size if layer == 0 else 2 * lstm.hidden_size, lstm.hidden_size, batch_first=True)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(one, f"{name}_l0").data.copy_(getattr(lstm, f"{name}_l{layer}{suffix}").data)
    return one


def reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """x (N, T, D) with each row's first lengths[n] steps reversed and its padding left in place."""
    t = torch.arange(x.size(1), device=x.device).unsqueeze(0)  # (1, T)
    n = lengths.unsqueeze(1)
    index = torch.where(t < n, n - 1 - t, t)  # (N, T); its own inverse
    return torch.gather(x, 1, index.unsqueeze(2).expand_as(x))


class BiLSTMPadded(nn.Module):
    """A (stacked) bidirectional LSTM over left-aligned padded rows, equal to the packed one on real positions."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        layers = range(lstm.num_layers)
        self.forward_lstms = nn.ModuleList(_direction(lstm, i, "") for i in layers)
        self.backward_lstms = nn.ModuleList(_direction(lstm, i, "_reverse") for i in layers)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """x (N, T, D), lengths (N,) -> outputs (N, T, 2H) and, per row, the last real step's forward and the
        first step's backward output (N, 2H): what the packed LSTM's final states hold."""
        fwd = bwd = x
        for f, b in zip(self.forward_lstms, self.backward_lstms):
            fwd, _ = f(x)
            bwd = reverse_within(b(reverse_within(x, lengths))[0], lengths)
            x = torch.cat([fwd, bwd], dim=2)
        last = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, fwd.size(2))
        final = torch.cat([fwd.gather(1, last).squeeze(1), bwd[:, 0]], dim=1)
        return x, final


class Emissions(nn.Module):
    """The tagger's emission network (eval mode: no dropout), ready for tracing."""

    def __init__(self, tagger: BiLSTMTagger):
        super().__init__()
        self.word_embedding, self.case_embedding, self.output = (
            tagger.word_embedding,
            tagger.case_embedding,
            tagger.output,
        )
        self.char_cnn = tagger.char_encoder if isinstance(tagger.char_encoder, CharCNN) else None
        self.char_lstm = None
        if isinstance(tagger.char_encoder, CharBiLSTM):
            self.char_embedding = tagger.char_encoder.embedding
            self.char_lstm = BiLSTMPadded(tagger.char_encoder.lstm)
        self.lstm = BiLSTMPadded(tagger.lstm)

    def forward(self, words: Tensor, chars: Tensor, case: Tensor, lengths: Tensor) -> Tensor:
        features = [self.word_embedding(words)]
        if self.char_cnn is not None:
            features.append(self.char_cnn(chars))
        if self.char_lstm is not None:
            b, length, c = chars.shape
            flat = chars.reshape(b * length, c)
            char_lengths = (flat != 0).sum(dim=1)
            _, final = self.char_lstm(self.char_embedding(flat), char_lengths)
            final = final * (char_lengths > 0).unsqueeze(1).to(final.dtype)  # words without chars: zeros
            features.append(final.reshape(b, length, -1))
        if self.case_embedding is not None:
            features.append(self.case_embedding(case))
        out, _ = self.lstm(torch.cat(features, dim=-1), lengths.clamp(min=1))
        return self.output(out)


class LMStep(nn.Module):
    """tokens (B, T), h, c (num_layers, B, H) -> log-probabilities (B, T, V) and the state after the last token."""

    def __init__(self, model: LSTMLanguageModel):
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        logits, (h, c) = self.model(tokens, (h, c))
        return torch.log_softmax(logits.float(), dim=-1), h, c


def _export(
    module: nn.Module, inputs: tuple, path: Path, names: list[str], outputs: list[str], axes: dict
) -> None:
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notices about LSTMs with a batch size
        # The TorchScript-based exporter: it writes the LSTMs as ONNX LSTM ops with dynamic batch and length
        # and needs no onnxscript (the dynamo exporter does).
        torch.onnx.export(module, inputs, str(path), input_names=names, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)  # fmt: skip


def export(saved: Saved, out: Path) -> list[Path]:
    """Write the ONNX graph and its runtime settings (`onnx.json`) beside an exported folder."""
    try:
        import onnx  # noqa: F401  (torch.onnx needs it)
    except ImportError:
        raise PipelineError(
            "ONNX export needs the export extra: pip install 'lstm-pipeline[export]'."
        ) from None
    _, module = saved.restore()
    module.eval()
    meta: dict = {"task": saved.task.name}
    if saved.task.name == "tagger":
        net = module.model
        b, length, c = 2, 5, 4
        example = (torch.ones(b, length, dtype=torch.long), torch.ones(b, length, c, dtype=torch.long),
                   torch.ones(b, length, dtype=torch.long), torch.full((b,), length, dtype=torch.long))  # fmt: skip
        axes = {"words": {0: "batch", 1: "length"}, "chars": {0: "batch", 1: "length", 2: "word_length"},
                "case": {0: "batch", 1: "length"}, "lengths": {0: "batch"}, "emissions": {0: "batch", 1: "length"}}  # fmt: skip
        _export(Emissions(net).eval(), example, out / "emissions.onnx", ["words", "chars", "case", "lengths"],
                ["emissions"], axes)  # fmt: skip
        written = [out / "emissions.onnx"]
        if net.crf is not None:
            with torch.no_grad():
                trans, start, end = net.crf._scores()
            np.savez(out / "crf.npz", transitions=trans.numpy(), start=start.numpy(), end=end.numpy())
            written.append(out / "crf.npz")
        cfg = saved.config
        meta |= {"max_word_length": cfg.data.max_word_length, "batch_size": cfg.data.eval_batch_size,
                 "head": cfg.model.head, "train_tags": module.train_tags, "train_scheme": module.train_scheme,
                 "corpus_scheme": module.corpus_scheme}  # fmt: skip
    else:
        net = module.model
        h, c = net.init_hidden(2)
        axes = {"tokens": {0: "batch", 1: "steps"}, "h": {1: "batch"}, "c": {1: "batch"},
                "log_probs": {0: "batch", 1: "steps"}, "h_out": {1: "batch"}, "c_out": {1: "batch"}}  # fmt: skip
        _export(LMStep(net).eval(), (torch.ones(2, 3, dtype=torch.long), h, c), out / "lm_step.onnx",
                ["tokens", "h", "c"], ["log_probs", "h_out", "c_out"], axes)  # fmt: skip
        written = [out / "lm_step.onnx"]
        meta |= {"num_layers": net.cfg.num_layers, "hidden_size": net.cfg.hidden_size,
                 "skip_empty_lines": saved.config.data.skip_empty_lines, "tokenizer": saved.config.data.tokenizer}  # fmt: skip
    (out / "onnx.json").write_text(json.dumps(meta, indent=2) + "\n")
    return [*written, out / "onnx.json"]
