"""Whitespace word-level tokenization done in Arrow: the vocabulary and the ids of a Hugging Face
`WordLevel` + `WhitespaceSplit` tokenizer, without a Python object per line or per word.

Why not `WordLevelTrainer` and `Tokenizer.encode_batch`: for this one tokenizer kind they build an
`Encoding` (offsets, strings, masks) per line and are about five times slower than a plain Python
dictionary lookup (see `benchmarks/`). Arrow's kernels (split, `dictionary_encode`, `index_in`) cut, count and
look up whole batches of words in C++. The result is still a `tokenizers.Tokenizer` (saved as
tokenizer.json, used by generate/predict), and `encode` gives exactly `tok.encode(line).ids` for
every line: the two places where Arrow and `tokenizers` disagree are handled, see `split_words`
and `encode`.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tokenizers import Tokenizer, models, pre_tokenizers

from data_modules.lm import long_lines

# Arrow splits on U+001C..U+001F (as Python's str.split does); Rust's char::is_whitespace, which
# `WhitespaceSplit` uses, does not. They are swapped for private-use code points while splitting.
_ARROW_ONLY_SPACES = [chr(c) for c in range(0x1C, 0x20)]
_STAND_INS = [chr(0xF8F0 + i) for i in range(4)]


def _as_array(lines: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks() if lines.num_chunks != 1 else lines.chunk(0)
    return lines.cast(pa.large_string()) if pa.types.is_string(lines.type) else lines


def split_words(lines: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The words of every line, as `WhitespaceSplit` cuts them: (words (N,), words per line (lines,))."""
    lines = _as_array(lines)
    # On ASCII text Arrow's ASCII split cuts exactly where Rust's char::is_whitespace does (U+001C..U+001F
    # are spaces to neither), and it is about twice as fast as the Unicode one.
    ascii = pc.all(pc.string_is_ascii(lines)).as_py() is not False
    special = False
    if not ascii:
        special = pc.any(pc.match_substring_regex(lines, "[\x1c-\x1f]")).as_py()
        if special:
            for c, s in zip(_ARROW_ONLY_SPACES, _STAND_INS):
                lines = pc.replace_substring(lines, c, s)
    lists = pc.ascii_split_whitespace(lines) if ascii else pc.utf8_split_whitespace(lines)
    words = lists.flatten()
    offsets = lists.offsets.to_numpy().astype(np.int64)
    offsets -= offsets[0]  # (lines + 1,) where each line's words start in `words`
    # Leading and trailing whitespace give empty strings in Arrow's split; the tokenizer has no such words.
    # Words per line come from the list offsets (a per-word parent index costs as much as the split), and
    # the filter (a copy of every word) runs only when there is something to drop.
    keep = pc.greater(pc.binary_length(words), 0)
    if keep.false_count:
        kept = np.concatenate([[0], np.cumsum(keep.to_numpy(zero_copy_only=False))])
        per_line = kept[offsets[1:]] - kept[offsets[:-1]]
        words = words.filter(keep)
    else:
        per_line = np.diff(offsets)
    if special:
        for c, s in zip(_ARROW_ONLY_SPACES, _STAND_INS):
            words = pc.replace_substring(words, s, c)
    return words, per_line


def specials_pattern(specials: list[str]) -> str:
    """A regular expression matching any of the special tokens (empty: there are none)."""
    return "|".join(re.escape(t) for t in specials)


def holds_special(words: pa.Array, pattern: str) -> bool:
    """True when a word contains a special token inside it ("a<eos>b"): the tokenizer cuts special tokens
    out of the raw text before splitting, so such text must go through the tokenizer itself."""
    if not pattern:
        return False
    holding = words.filter(pc.match_substring_regex(words, pattern))
    return bool(len(holding)) and not pc.all(pc.match_substring_regex(holding, f"^(?:{pattern})$")).as_py()


def with_eos(ids: np.ndarray, per_line: np.ndarray, eos: int, skip_empty: bool) -> pa.ListArray:
    """(lines kept,) lists of ids, line k's `per_line[k]` ids followed by `eos`; lines without words are
    dropped with `skip_empty`. `ids` (N,) are the words' ids in order, N = per_line.sum()."""
    if skip_empty:
        per_line = per_line[per_line > 0]
    # Line k's ids followed by eos: ids shift right by the number of earlier lines.
    ends = np.cumsum(per_line + 1)
    out = np.full(int(ends[-1]) if len(ends) else 0, eos, dtype=np.int32)
    shift = np.repeat(np.arange(len(per_line)), per_line)
    out[np.arange(len(ids)) + shift] = ids
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(out))


def tokenizer_ids(
    tok: Tokenizer, lines: pa.Array, eos: int, skip_empty: bool, word_level: bool
) -> pa.ListArray:
    """(lines kept,) each line's ids by the tokenizers library, followed by `eos`. `skip_empty` drops blank lines,
    and for a `word_level` tokenizer every line without a word, as `ArrowEncoder` does: U+001C..U+001F are
    spaces to Python's `isspace` but words to `WhitespaceSplit`."""
    texts = [t or "" for t in lines.to_pylist()]
    if skip_empty and not word_level:
        texts = [t for t in texts if t and not t.isspace()]
    encoded = long_lines.line_ids(tok, texts)  # long lines in pieces: an Encoding costs ~370 bytes a token
    kept = [ids for ids in encoded if len(ids) or not (skip_empty and word_level)]
    ends = np.cumsum([len(ids) + 1 for ids in kept], dtype=np.int64)
    values = np.full(int(ends[-1]) if len(kept) else 0, eos, dtype=np.int32)  # each line's last slot: eos
    for ids, end in zip(kept, ends):
        values[end - 1 - len(ids) : end - 1] = ids
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.int32()))


def build_tokenizer(
    counts: pa.Table, specials: list[str], min_frequency: int = 1, vocab_size: int | None = None
) -> Tokenizer:
    """A `WordLevel` tokenizer: `specials` first (ids 0, 1, ...), then words by decreasing count, ties
    in code-point order (WordLevelTrainer's order), those seen fewer than `min_frequency` times left out,
    at most `vocab_size` entries in all. The first special is the unknown token."""
    # Arrow sorts strings by their UTF-8 bytes, which is code-point order, as Rust's String sorts them.
    counts = counts.filter(pc.greater_equal(counts.column("count"), min_frequency))
    counts = counts.filter(
        pc.invert(pc.is_in(counts.column("word"), value_set=pa.array(specials, pa.large_string())))
    )
    ranked = counts.take(pc.sort_indices(counts, sort_keys=[("count", "descending"), ("word", "ascending")]))
    keep = (vocab_size or 2**31 - 1) - len(specials)
    vocab = {s: i for i, s in enumerate(specials)}
    vocab.update(
        zip(ranked.column("word").slice(0, max(keep, 0)).to_pylist(), itertools.count(len(specials)))
    )
    tok = Tokenizer(models.WordLevel(vocab, unk_token=specials[0]))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(specials)
    return tok


def is_whitespace_word_level(tok: Tokenizer) -> bool:
    """True for the tokenizers `encode` reproduces: WordLevel, WhitespaceSplit, no normalizer or post-processor.

    Read from the bound objects, not from `tok.to_str()`: serialising a large vocabulary to JSON and back costs
    tens of milliseconds per call, and this is asked once per split."""
    return (
        isinstance(tok.model, models.WordLevel)
        and isinstance(tok.pre_tokenizer, pre_tokenizers.WhitespaceSplit)
        and tok.normalizer is None
        and tok.post_processor is None
        and all(t.special and not t.normalized for t in tok.get_added_tokens_decoder().values())
    )


class ArrowEncoder:
    """Ids of lines, each followed by `eos`, for a tokenizer where `is_whitespace_word_level(tok)`."""

    @classmethod
    def of(cls, tok: Tokenizer, eos: int) -> ArrowEncoder:
        """The encoder of `tok`, built once: building one reads the whole vocabulary out of the tokenizer (11 ms
        at 100k words), and preparing a corpus asks for one per split."""
        global _last
        key = (id(tok), tok.get_vocab_size(), eos)
        if _last is None or _last[0] != key or _last[1] is not tok:
            _last = (key, tok, cls(tok, eos))
        return _last[2]

    def __init__(self, tok: Tokenizer, eos: int):
        vocab = tok.get_vocab()
        ids = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
        order = np.argsort(ids)
        if not np.array_equal(ids[order], np.arange(len(vocab))):
            raise ValueError("the vocabulary's ids are not 0..n-1")
        self.words = pa.array(list(vocab), pa.large_string()).take(pa.array(order))  # index = id
        self.added_pattern = specials_pattern([t.content for t in tok.get_added_tokens_decoder().values()])
        self.unk = tok.token_to_id(tok.model.unk_token)
        self.eos = eos

    def encode(self, lines: pa.Array | pa.ChunkedArray, skip_empty: bool) -> pa.ListArray | None:
        """(lines kept,) lists of ids ending with `eos`; lines without words are dropped with `skip_empty`.

        None when a word contains a special token inside it ("a<eos>b"): the tokenizer cuts special
        tokens out of the raw text before splitting, so the caller must use it for such a batch.
        """
        words, per_line = split_words(lines)
        if holds_special(words, self.added_pattern):
            return None
        ids = pc.fill_null(pc.index_in(words, value_set=self.words), self.unk).to_numpy().astype(np.int32)
        return with_eos(ids, per_line, self.eos, skip_empty)


_last: tuple | None = None
"""(key, tokenizer, encoder) of the latest `ArrowEncoder.of`."""
