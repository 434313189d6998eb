"""One pass over a training split for the whitespace word-level tokenizer: the count of every word, and,
written to a spill file as it goes, which word stood at each position.

Why: counting and encoding each split the text into words and hash every word (`words.split_words`,
then a hash table); on a large corpus those two steps are nearly all the preparation time. Done once
here, the training ids afterwards are a table lookup on the spilled positions (`ids`), exactly what
`words.ArrowEncoder` gives. The spill holds, per batch of lines, its words per line and each word's index
in first-seen order (int32); it is read back with plain reads, so neither pass holds the corpus in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tokenizers import Tokenizer

from data_modules.entries import disk_error
from data_modules.lm import words
from data_modules.ordered_pool import threaded_map

MERGE_WORDS = 2**18
"""Distinct words (summed over batches) that wait before they are merged into the words seen (`WordPass._merge`)."""
HELD_WORDS = 2**24
"""Words whose indices wait for a merge at most (2 or 4 bytes each): bounds the memory of a corpus of rare words."""


class WordPass:
    """Counts the words of batches of lines (`count`), then gives their ids under a tokenizer (`ids`)."""

    def __init__(self, specials: list[str], spill: Path | None = None):
        self.specials, self.spill = specials, spill
        self.seen = pa.array([], pa.large_string())  # (words seen,) every word, in first-seen order
        self.counts = np.zeros(0, np.int64)  # (words seen,) their occurrences
        self.fallback: set[int] = set()  # batches with a special token inside a word (see `ids`)
        self.batches = 0

    def count(self, batches: Iterable[pa.Array], num_proc: int = 1) -> pa.Table:
        """(word, count) of every word of every line, in first-seen order; spills positions when `spill` is set.

        Batches are split and counted by `num_proc` threads (Arrow's kernels release the GIL), merged here in order."""
        out = open(self.spill, "wb") if self.spill else None  # noqa: SIM115 (closed below)
        pending: list[tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]] = []
        try:
            for *split, inside in threaded_map(_split, batches, num_proc, _start, (self.specials,)):
                if inside:
                    self.fallback.add(self.batches)
                self.batches += 1
                pending.append(split)
                distinct, held = sum(len(p[0]) for p in pending), sum(len(p[1]) for p in pending)
                if distinct >= max(2 * len(self.seen), MERGE_WORDS) or held >= HELD_WORDS:
                    self._merge(pending, out)
                    pending = []
            self._merge(pending, out)
        except OSError as e:  # the spill is the caller's to remove (a temporary name in the cache folder)
            raise disk_error(self.spill, e) from None
        finally:
            if out is not None:
                out.close()
        return pa.table({"word": self.seen, "count": pa.array(self.counts)})

    def _merge(self, pending: list, out) -> None:
        """Adds batches' distinct words and counts to `seen`, and spills their words' first-seen indices.

        Several batches at a time, in one `dictionary_encode` of the words seen followed by the batches' distinct
        words: Arrow keeps no hash table between calls, so each lookup hashes every word seen again; merging
        once the batches hold about twice as many distinct words as were seen keeps that a constant factor.
        (A Python dict costs about 1.5 us per distinct word of every batch, more than splitting the batch.)"""
        if not pending:
            return
        before = len(self.seen)
        encoded = pc.dictionary_encode(pa.concat_arrays([self.seen, *(p[0] for p in pending)]))
        codes = (
            encoded.indices.to_numpy()
        )  # the words seen keep their indices: they come first and are distinct
        self.seen = encoded.dictionary
        self.counts = np.concatenate([self.counts, np.zeros(len(self.seen) - before, np.int64)])
        at = before
        for dictionary, local, per_line, counts in pending:
            known = codes[at : at + len(dictionary)]  # (distinct words of the batch,) no repeats
            at += len(dictionary)
            self.counts[known] += counts
            if out is not None:
                _spill_batch(out, per_line, known[local])

    def ids(
        self, tok: Tokenizer, eos: int, skip_empty: bool, text: Iterable[pa.Array], num_proc: int = 1
    ) -> Iterator[pa.ListArray] | None:
        """Each batch's lines as lists of ids ending with `eos`, as `ArrowEncoder(tok, eos).encode` gives them, looked
        up by `num_proc` threads; None when nothing was spilled (no spill file, or `count` did not run: the tokenizer
        came from elsewhere).

        `text` is the same batches again: read only for a batch holding a special token inside a word
        ("a<eos>b"), which the tokenizer cuts apart before splitting and so encodes itself."""
        return self._ids(tok, eos, skip_empty, text, num_proc) if self.spill and self.batches else None

    def _ids(
        self, tok: Tokenizer, eos: int, skip_empty: bool, text: Iterable[pa.Array], num_proc: int
    ) -> Iterator[pa.ListArray]:
        encoder = words.ArrowEncoder.of(tok, eos)
        if encoder.added_pattern != words.specials_pattern(self.specials):
            raise ValueError("ids() needs the tokenizer whose special tokens the count looked for")
        table = (
            pc.fill_null(pc.index_in(self.seen, value_set=encoder.words), encoder.unk)
            .to_numpy()
            .astype(np.int32)
        )

        def lookup(record: tuple) -> pa.ListArray:
            b, per_line, positions, batch = record
            if b in self.fallback:
                return words.tokenizer_ids(tok, batch, eos, skip_empty, True)
            return words.with_eos(table[positions], per_line, eos, skip_empty)

        yield from threaded_map(lookup, self._records(text), num_proc)

    def _records(self, text: Iterable[pa.Array]) -> Iterator[tuple]:
        """(batch number, words per line, first-seen index of each word, the batch's text when needed), in order."""
        lines = iter(text)
        with open(self.spill, "rb") as f:
            for b in range(self.batches):
                n_lines, n_words = np.fromfile(f, np.int64, 2)
                per_line = np.fromfile(f, np.int32, n_lines)
                positions = np.fromfile(f, np.int32, n_words)
                yield b, per_line, positions, next(lines) if self.fallback else None


def _spill_batch(out, per_line: np.ndarray, positions: np.ndarray) -> None:
    """One batch's record: (lines, words) as int64, then words per line and each word's first-seen index (int32)."""
    np.array([len(per_line), len(positions)], np.int64).tofile(out)
    per_line.tofile(out)
    positions.tofile(out)


_specials_pattern = ""


def _start(specials: list[str]) -> None:
    global _specials_pattern
    _specials_pattern = words.specials_pattern(specials)


def _split(lines: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, bool]:
    """A batch's distinct words (D,), each word's index among them (N,; uint16 or int32), its words per line
    (lines,) as int32, each distinct word's count (D,), and whether a special token stands inside a word."""
    found, per_line = words.split_words(lines)
    encoded = pc.dictionary_encode(found)
    dictionary = encoded.dictionary.cast(pa.large_string())
    local = encoded.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(local, minlength=len(dictionary))
    # Half the bytes to send back when they fit (they usually do: a batch holds some 30k distinct words).
    local = local.astype(np.uint16 if len(dictionary) <= 2**16 else np.int32, copy=False)
    inside = words.holds_special(dictionary, _specials_pattern)
    return dictionary, local, per_line.astype(np.int32), counts, inside
