"""Text generation from an LSTM language model, token by token with a carried hidden state."""

from __future__ import annotations

import torch

from models.errors import ModelConfigError
from models.lstm_lm import LSTMLanguageModel


def sample(
    model: LSTMLanguageModel,
    prompt_ids: list[int],
    max_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Continue `prompt_ids` with `max_tokens` new token ids (the prompt is not included in the result).

    temperature 0 picks the most likely token (greedy); `top_k` keeps only the k most likely tokens before
    sampling.  With a seeded `generator` (on the model's device) the result is deterministic.
    """
    if not prompt_ids:
        raise ModelConfigError("sample() needs a non-empty prompt (at least one token id, e.g. <bos>)")
    if temperature < 0:
        raise ModelConfigError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ModelConfigError(f"top_k must be >= 1 or unset, got {top_k}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[int] = []
    try:
        with torch.no_grad():
            tokens = torch.tensor([prompt_ids], dtype=torch.long, device=device)  # (1, P)
            logits, hidden = model(tokens)
            for _ in range(max_tokens):
                # fp32 for the softmax even when the model runs in half precision.
                last = logits[0, -1].float()  # (V,)
                if temperature == 0:
                    next_id = int(last.argmax())
                else:
                    if top_k is not None and top_k < last.numel():
                        kth = torch.topk(last, top_k).values[-1]
                        last = last.masked_fill(last < kth, float("-inf"))
                    probs = torch.softmax(last / temperature, dim=-1)
                    next_id = int(torch.multinomial(probs, 1, generator=generator))
                out.append(next_id)
                if len(out) == max_tokens:
                    break
                logits, hidden = model(torch.tensor([[next_id]], device=device), hidden)
    finally:
        model.train(was_training)
    return out
