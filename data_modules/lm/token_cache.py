"""Token-id caches: one flat `.npy` per split, written once, memory-mapped by every rank.

A cache file's name is a fingerprint of everything that decides its content (source, split,
tokenizer, preprocessing), so a changed input can never be served a stale cache, and an
unchanged one is never tokenized again. Files are written under a temporary name and renamed,
so a crash mid-write leaves no file that looks complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer

from data_modules.entries import disk_error, manifest_meta, write_manifest
from data_modules.errors import DataError
from data_modules.files import atomic_open
from data_modules.lm import text_stream, words
from data_modules.lm.tokenizer import UNK
from data_modules.ordered_pool import striped_map, threaded_map

log = logging.getLogger(__name__)


def encode_split(
    ds: datasets.Dataset,
    tok: Tokenizer,
    text_column: str,
    out: Path,
    eos_id: int,
    skip_empty: bool,
    num_proc: int | None,
    split: str,
    reverse: bool = False,
    encoded: Iterable[pa.ListArray] | None = None,
) -> int:
    """Tokenize `ds[text_column]` line by line (each line ends with `<eos>`) into `out` (.npy); returns the token count.

    With `reverse`, each line's ids are reversed before its `<eos>` (a right-to-left LM; for a character
    tokenizer that is the line's text reversed, as flair's backward LMs read it).
    The text is read batch by batch with plain reads (`text_stream`), each batch is encoded (by `num_proc`
    workers when > 1: threads in Arrow, processes through `tokenizers`) and its ids are written at once:
    the process holds a few batches, never the corpus, whatever its size. `encoded` gives the batches' ids
    already (`WordPass.ids`); they are then only reversed and written.
    """
    check_text_column(ds, text_column, split)
    dtype = ids_dtype(tok.get_vocab_size())
    if encoded is None:
        batches = text_stream.text_batches(ds, text_column)
        settings = (tok, eos_id, skip_empty, reverse)  # workers are forked: handed over, not serialised
        # A split of one batch (most validation and test splits) is encoded here: starting workers costs more.
        procs = (num_proc or 1) if len(ds) > text_stream.ROWS else 1
        # The Arrow path releases the GIL (threads); the tokenizers path builds a Python string per line (processes).
        pool = threaded_map if words.is_whitespace_word_level(tok) else striped_map
        values_of = pool(_work, batches, procs, _start_worker, settings)
    else:
        values_of = (_flat(reverse_lines(ids) if reverse else ids) for ids in encoded)
    unk_id = tok.token_to_id(UNK)
    total = unk = 0
    try:
        with atomic_open(out) as f:
            # The .npy header is written again at the end, with the count: same length, so the ids stay put.
            f.write(_npy_header(dtype, 0))
            for values in values_of:
                f.write(values.astype(dtype, copy=False).tobytes())
                total += len(values)
                unk += int(np.count_nonzero(values == unk_id)) if unk_id is not None else 0
            if total == 0:  # raised inside the block: no file appears under the cache's name
                raise DataError(f"The {split} split is empty: it has no text to model.")
            f.seek(0)
            f.write(_npy_header(dtype, total))
            f.seek(0, 2)
        write_manifest(out, meta={"dtype": dtype.name, "vocab_size": tok.get_vocab_size(), "unk": unk})
    except OSError as e:
        raise disk_error(out, e) from None
    return total


def named_text_column(dd: datasets.DatasetDict, text_column: str) -> datasets.DatasetDict:
    """`dd` with its one string column named `text_column` in a split that has no such column (the Hub's
    `ptb_text_only` writes `sentence`, local text files are `text`), so one recipe reads both; unchanged where
    there are several (`check_text_column` lists them)."""
    out = {}
    for split, ds in dd.items():
        strings = [c for c, f in ds.features.items() if f == datasets.Value("string")]
        if text_column not in ds.column_names and len(strings) == 1:
            log.info("No column '%s' in %s: its text is column '%s'", text_column, split, strings[0])
            ds = ds.rename_column(strings[0], text_column)
        out[split] = ds
    return datasets.DatasetDict(out)


def check_text_column(ds: datasets.Dataset, text_column: str, split: str) -> None:
    if text_column not in ds.column_names:
        raise DataError(
            f"The {split} split has no text column '{text_column}'; its columns are {ds.column_names}. "
            "Set --data.text_column."
        )


_HEADER_BYTES = 128
"""A fixed .npy header size (numpy reads any header length), so the count can be filled in last."""


def _npy_header(dtype: np.dtype, n: int) -> bytes:
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)})
    text = text.ljust(_HEADER_BYTES - 10 - 1) + "\n"  # magic (6) + version (2) + length (2) + text
    return (
        np.lib.format.MAGIC_PREFIX + bytes([1, 0]) + len(text).to_bytes(2, "little") + text.encode("latin1")
    )


class _Encoder:
    """Lines -> flat ids, each line's followed by `eos`: in Arrow for a whitespace word-level tokenizer
    (`words.ArrowEncoder`), else by the tokenizers library."""

    def __init__(self, tok: Tokenizer, eos: int, skip_empty: bool, reverse: bool):
        self.tok = tok
        self.fast = words.ArrowEncoder.of(self.tok, eos) if words.is_whitespace_word_level(self.tok) else None
        self.eos, self.skip_empty, self.reverse = eos, skip_empty, reverse

    def __call__(self, lines: pa.Array) -> np.ndarray:
        ids = self.fast.encode(lines, self.skip_empty) if self.fast else None
        if ids is None:
            ids = words.tokenizer_ids(self.tok, lines, self.eos, self.skip_empty, self.fast is not None)
        return _flat(reverse_lines(ids) if self.reverse else ids)


def _flat(ids: pa.ListArray) -> np.ndarray:
    return ids.flatten().to_numpy(zero_copy_only=False)


_worker: _Encoder | None = None


def _start_worker(*settings) -> None:
    global _worker
    _worker = _Encoder(*settings)


def _work(lines: pa.Array) -> np.ndarray:
    return _worker(lines)


def ids_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (0..65535), uint32 beyond: half the disk and page cache for most vocabularies,
    and WikiText-103's 267k or the One Billion Word benchmark's 793k words still exact."""
    return np.dtype(np.uint16 if vocab_size <= 2**16 else np.uint32)


def reverse_lines(ids: pa.ListArray) -> pa.ListArray:
    """Each list reversed except its last entry (the line's `<eos>`), vectorised over the whole batch."""
    offsets = ids.offsets.to_numpy().astype(np.int64)
    values = ids.flatten().to_numpy(zero_copy_only=False)
    lens = np.diff(offsets)
    line = np.repeat(np.arange(len(lens)), lens)  # (N,) line of each id
    at = np.arange(len(values)) - offsets[line]  # (N,) position inside its line
    body = at < lens[line] - 1
    src = np.where(body, offsets[line] + lens[line] - 2 - at, np.arange(len(values)))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values[src]))


def load_ids(path: Path) -> np.ndarray:
    """The cached ids, memory-mapped read-only: ranks share the page cache instead of copies. The dtype is the
    file's own (.npy header), so caches written before the manifest recorded it (all uint16) still read."""
    ids = np.load(path, mmap_mode="r")
    recorded = manifest_meta(path).get("dtype")
    if recorded is not None and recorded != ids.dtype.name:
        raise DataError(f"The cache file '{path}' holds {ids.dtype.name} ids, its manifest says {recorded}.")
    return ids
