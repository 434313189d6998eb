"""Word features read from a trained LSTM language model: contextual string embeddings (Akbik et al. 2018) for a
character LM, TagLM's LM states (Peters et al. 2017) for a word LM.

The data side (data_modules/tagging/lm_inputs.py) turns a sentence into the LM's input ids (an `<eos>` first, as
after the previous line) and, per word, the input position whose output state is the word's feature:
- char LM, forward: the state after the word's last character; backward (reads the sentence reversed): the
  state after the word's first character, i.e. before it in reading order of the text (flair's definition);
- word LM: the state after the word itself, in either direction.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.errors import ModelConfigError
from models.lstm_lm import LMConfig, LSTMLanguageModel


class LMEmbedder(nn.Module):
    """One LM checkpoint's network and identity. `spec` (plain JSON, kept in the tagger checkpoint): `config`
    (LMConfig fields), `vocab` (unit -> id), `unit` (char or word), `reverse`, `hash`, `unk`, `eos`."""

    def __init__(self, spec: dict, finetune: bool = False):
        super().__init__()
        if spec.get("unit") not in ("char", "word"):
            raise ModelConfigError(
                f"LM embeddings need a char or word language model, not {spec.get('unit')!r}"
            )
        self.spec, self.finetune = spec, finetune
        self.lm = LSTMLanguageModel(LMConfig(**spec["config"]), len(spec["vocab"]))
        self.output_size = self.lm.cfg.hidden_size
        if not finetune:
            self.lm.requires_grad_(False)

    def forward(self, ids: Tensor, positions: Tensor) -> Tensor:
        """ids (B, T) LM input ids (right-padded: padding after a sentence cannot change its states), positions
        (B, L) the input index of each word's state -> features (B, L, H), fp32."""
        drop = self.training and self.finetune  # frozen features are the LM's deterministic states
        lm = self.lm
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.finetune):
            x = lm.embed(ids)
            x = lm.embedding_drop(x) if drop else x
            zeros = torch.zeros(1, ids.size(0), lm.cfg.hidden_size, dtype=x.dtype, device=x.device)
            for i, layer in enumerate(lm.layers):
                if i > 0 and drop:
                    x = lm.layer_drop(x)
                # The layer's own training flag drives DropConnect; frozen use runs it as in evaluation.
                x, _ = layer(x, (zeros, zeros)) if drop else _eval_call(layer, x, zeros)
            index = positions.unsqueeze(-1).expand(-1, -1, x.size(-1))
            return torch.gather(x, 1, index).float()


def _eval_call(layer: nn.Module, x: Tensor, zeros: Tensor):
    was = layer.training
    layer.train(False)
    try:
        return layer(x, (zeros, zeros))
    finally:
        layer.train(was)
