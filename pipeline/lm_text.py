"""Text <-> token ids for a trained LM, as the corpus was modelled: line by line, each line ending in `<eos>`.

Pure Python over a `tokenizers.Tokenizer`, shared by the PyTorch API (pipeline/api.py) and the ONNX runtime
(pipeline/onnx_runtime.py, which must not import PyTorch).
"""

from __future__ import annotations


def encode(tokenizer, eos: int, text: str, skip_empty_lines: bool) -> list[int]:
    """Token ids of a text, as the data module tokenizes a split (blank lines dropped when it drops them)."""
    lines = [line for line in text.split("\n") if not skip_empty_lines or (line and not line.isspace())]
    return [i for e in tokenizer.encode_batch(lines, add_special_tokens=False) for i in e.ids + [eos]]


def prompt_ids(tokenizer, eos: int, prompt: str) -> list[int]:
    """A prompt continues a line that followed an end-of-line, as every line of the corpus did."""
    return [eos] + tokenizer.encode(prompt, add_special_tokens=False).ids


def continuation(tokenizer, eos: int, prompt: str, ids: list[int], word_level: bool) -> str:
    """The prompt and the sampled ids as text; an `<eos>` starts a new line."""
    lines, current = [], []
    for i in ids:
        if i == eos:
            lines.append(current)
            current = []
        else:
            current.append(i)
    lines.append(current)
    text = "\n".join(tokenizer.decode(line) for line in lines)
    return prompt + (" " if prompt and word_level else "") + text
