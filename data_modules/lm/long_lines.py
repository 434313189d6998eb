"""Long lines (text8 and enwik8 are one line of 100 MB) tokenized in pieces that give the ids of the whole.

The `tokenizers` library builds an `Encoding` per text with a string, offsets and masks for every token: about
370 bytes a token, so one 12 MB line took 4.4 GB and 21 s to encode, and text8 would need ~37 GB. A line is
therefore cut into pieces of about `PIECE` characters, and texts are encoded a bounded number of characters at
a time, the ids of each piece turned into an array at once.

A cut is made only where it cannot change a token: before a space (U+0020) that follows a non-space
character, and only for tokenizers whose pre-tokenizer splits there anyway and that have no normalizer (the
word, BPE and character tokenizers `train_tokenizer` builds, or such a tokenizer.json). For them every
pre-token lies wholly on one side of such a point: whitespace splitting and single characters trivially;
GPT-2's byte-level pattern lets a word take the one space before it (` ?\\p{L}+`) and ends every word at a
space, so the piece after the cut starts with the same pre-token as the whole line has there. Other
tokenizers get whole lines, as before (tests/test_long_lines.py checks equality against whole-line encoding).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
from tokenizers import Tokenizer

PIECE = 1 << 16
"""Characters a piece aims at (a line without a cut point stays whole)."""
GROUP = 1 << 20
"""Characters encoded by one `encode_batch` call: its Encodings hold ~370 bytes a token."""
CHARACTERS = {"type": "Split", "pattern": {"Regex": r"[\s\S]"}, "behavior": "Isolated", "invert": False}
"""The character tokenizer's pre-tokenizer (data_modules/lm/tokenizer.py): every character its own pre-token."""


def cuttable(tok: Tokenizer) -> bool:
    """Whether cutting a line before a space keeps `tok`'s tokens (see the module docstring): no normalizer, and
    whitespace splitting, byte-level splitting by GPT-2's pattern, or one pre-token per character."""
    if tok.normalizer is not None or tok.pre_tokenizer is None:
        return False
    state = json.loads(tok.pre_tokenizer.__getstate__())
    kind = state.get("type")
    return (
        kind in ("WhitespaceSplit", "Whitespace")
        or (kind == "ByteLevel" and state.get("use_regex", True))
        or state == CHARACTERS
    )


def pieces(text: str, size: int | None = None) -> Iterator[str]:
    """`text` in consecutive pieces of about `size` (default PIECE) characters: at least that many, up to the
    next cut point."""
    size = size or PIECE
    start = 0
    while len(text) - start > size:
        cut = text.find(" ", start + size)
        while (
            cut != -1 and text[cut - 1].isspace()
        ):  # a space after a space: a whitespace run, not a cut point
            cut = text.find(" ", cut + 1)
        if cut == -1:
            break
        yield text[start:cut]
        start = cut
    yield text[start:]


def line_ids(
    tok: Tokenizer, texts: list[str], size: int | None = None, group: int | None = None
) -> list[np.ndarray]:
    """Each text's ids (int32), as `tok.encode_batch(texts, add_special_tokens=False)` gives them, encoding at
    most about `group` (default GROUP) characters at a time, lines cut into pieces of about `size`."""
    group = group or GROUP
    cut = cuttable(tok)
    out: list[list[np.ndarray]] = [[] for _ in texts]
    batch: list[str] = []
    owners: list[int] = []
    held = 0

    def flush() -> None:
        for owner, enc in zip(owners, tok.encode_batch(batch, add_special_tokens=False)):
            out[owner].append(np.asarray(enc.ids, dtype=np.int32))
        batch.clear()
        owners.clear()

    for i, text in enumerate(texts):
        for piece in pieces(text, size) if cut else (text,):
            if batch and held + len(piece) > group:
                flush()
                held = 0
            batch.append(piece)
            owners.append(i)
            held += len(piece)
    if batch:
        flush()
    return [np.concatenate(parts) if parts else np.zeros(0, np.int32) for parts in out]
