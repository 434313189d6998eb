"""A dataset's text column, batch by batch, read with plain reads rather than through a memory map.

`datasets` memory-maps its Arrow cache files, and every page of a mapped file that is touched counts in
the process's resident memory until the map goes away. Training the tokenizer and encoding a corpus
touch every page of its text, so a 1 GB corpus added about 1.45 GB to the peak RSS of a cold prepare
(`make bench-quality ARGS='--rows large'`, 2026-11-25: 2.2 GB peak, 0.75 GB of it allocations). Plain
reads put the same bytes in the page cache, shared and reclaimable, and only the current batch in the
process. Where the dataset is not exactly its cache files (a selection, a renamed column, an in-memory
table), its table is read batch by batch instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import datasets
import pyarrow as pa
from datasets.table import ConcatenationTable, MemoryMappedTable

_HARMLESS = {"replace_schema_metadata"}
"""Replays that leave a mapped table's rows and columns as in its file."""


def whole_files(ds: datasets.Dataset) -> list[str] | None:
    """The Arrow files whose rows, in order, are exactly the dataset's rows; None when it is anything else."""
    if ds._indices is not None:
        return None

    def files(table) -> list[str] | None:
        if isinstance(table, MemoryMappedTable):
            ok = all(op in _HARMLESS for op, _, _ in table.replays or [])
            return [table.path] if ok else None
        if isinstance(table, ConcatenationTable) and all(len(row) == 1 for row in table.blocks):
            parts = [files(row[0]) for row in table.blocks]
            return None if any(p is None for p in parts) else [f for p in parts for f in p]
        return None

    return files(ds.data)


ROWS = 20_000
"""Lines per batch: the same for every reader of a split (`WordPass.ids` relies on it)."""


def text_batches(ds: datasets.Dataset, column: str, rows: int | None = None) -> Iterator[pa.Array]:
    """The `column` of `ds` as arrays of about `rows` (default ROWS) lines each (the last one shorter), in order."""
    rows = rows or ROWS
    paths = whole_files(ds)
    if paths is None:
        if ds._indices is not None:
            ds = ds.flatten_indices(keep_in_memory=True)
        table = ds.data.column(column)
        for start in range(0, len(table), rows):
            yield _combined(table.slice(start, rows).chunks, table.type)
        return
    held, count = [], 0
    for path in paths:
        with pa.OSFile(path) as source:
            for batch in pa.ipc.open_stream(source):
                lines = batch.column(column)
                for start in range(0, len(lines), rows):  # a file's record batches may hold many more lines
                    held.append(lines.slice(start, rows))
                    count += len(held[-1])
                    if count >= rows:
                        yield _combined(held, held[0].type)
                        held, count = [], 0
    if held:
        yield _combined(held, held[0].type)


def _combined(arrays: list[pa.Array], kind: pa.DataType) -> pa.Array:
    return pa.concat_arrays(arrays) if arrays else pa.array([], kind)
