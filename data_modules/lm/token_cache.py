"""Token-id caches: one flat `.npy` per split, written once, memory-mapped by every rank.

A cache file's name is a fingerprint of everything that decides its content (source, split,
tokenizer, preprocessing), so a changed input can never be served a stale cache, and an
unchanged one is never tokenized again. Files are written under a temporary name and renamed,
so a crash mid-write leaves no file that looks complete.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer

from data_modules.entries import disk_error, manifest_meta, write_manifest
from data_modules.errors import DataError
from data_modules.files import atomic_open
from data_modules.lm import words


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
) -> int:
    """Tokenize `ds[text_column]` line by line (each line ends with `<eos>`) into `out` (.npy); returns the token count.

    With `reverse`, each line's ids are reversed before its `<eos>` (a right-to-left LM; for a character
    tokenizer that is the line's text reversed, as flair's backward LMs read it).
    `datasets.map(batched=True)` does the work in Arrow, in parallel with `num_proc`, and the
    result is copied chunk by chunk into a memory-mapped array, so the corpus is never held in
    memory as Python objects.
    """
    if text_column not in ds.column_names:
        raise DataError(
            f"The {split} split has no text column '{text_column}'; its columns are {ds.column_names}. "
            "Set --data.text_column."
        )

    fast = words.ArrowEncoder(tok, eos_id) if words.is_whitespace_word_level(tok) else None

    def encode_strings(texts: list[str]) -> list[list[int]]:
        lines = [t for t in texts if not skip_empty or (t and not t.isspace())]
        return [e.ids + [eos_id] for e in tok.encode_batch(lines, add_special_tokens=False)]

    def encode(batch: pa.Table) -> pa.Table:
        column = batch.column(text_column)
        ids = fast.encode(column, skip_empty) if fast else None
        if ids is None:
            ids = pa.array(encode_strings(column.to_pylist()), pa.list_(pa.int32()))
        if reverse:
            ids = reverse_lines(ids)
        return pa.table({"ids": ids})

    ids = ds.with_format("arrow").map(
        encode,
        batched=True,
        batch_size=20_000 if fast else 2000,
        num_proc=num_proc if num_proc and num_proc > 1 else None,
        remove_columns=ds.column_names,
        desc=f"Tokenizing {split}",
    )
    if "ids" not in ids.column_names:  # every line was skipped: datasets then drops the column too
        raise DataError(f"The {split} split is empty: it has no text to model.")
    column = ids.data.column("ids")
    total = sum(int(chunk.offsets[-1].as_py() - chunk.offsets[0].as_py()) for chunk in column.chunks)
    if total == 0:
        raise DataError(f"The {split} split is empty: it has no text to model.")
    dtype = ids_dtype(tok.get_vocab_size())
    # Plain writes rather than a memory map: written pages go to the page cache without counting
    # in this process's resident memory, which stays small whatever the corpus size.
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (total,)}
    written = 0
    try:
        with atomic_open(out) as f:
            np.lib.format.write_array_header_1_0(f, header)
            for values in _id_chunks(ids):
                f.write(values.astype(dtype, copy=False).tobytes())
                written += len(values)
            if written != total:  # raised inside the block: no file appears under the cache's name
                raise RuntimeError(f"wrote {written} ids for {split}, expected {total}")
        write_manifest(out, meta={"dtype": dtype.name, "vocab_size": tok.get_vocab_size()})
    except OSError as e:
        raise disk_error(out, e) from None
    return total


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


def _id_chunks(ids: datasets.Dataset):
    """The flat ids, chunk by chunk. Read from the map's cache files with plain reads when it has
    them: every page of a memory-mapped table that is touched counts in resident memory."""
    files = [f["filename"] for f in ids.cache_files]
    if not files:
        for chunk in ids.data.column("ids").chunks:
            yield chunk.flatten().to_numpy(zero_copy_only=False)
        return
    for name in files:
        with pa.OSFile(name) as source:
            for batch in pa.ipc.open_stream(source):
                yield batch.column("ids").flatten().to_numpy(zero_copy_only=False)


def arrow_column(ds: datasets.Dataset, column: str) -> pa.ChunkedArray:
    """A dataset's column as Arrow, without converting rows to Python objects."""
    if ds._indices is not None:  # a selected or shuffled view: materialise its row order first
        ds = ds.flatten_indices()
    return ds.data.column(column)


def load_ids(path: Path) -> np.ndarray:
    """The cached ids, memory-mapped read-only: ranks share the page cache instead of copies. The dtype is the
    file's own (.npy header), so caches written before the manifest recorded it (all uint16) still read."""
    ids = np.load(path, mmap_mode="r")
    recorded = manifest_meta(path).get("dtype")
    if recorded is not None and recorded != ids.dtype.name:
        raise DataError(f"The cache file '{path}' holds {ids.dtype.name} ids, its manifest says {recorded}.")
    return ids
