"""Plain text files as `datasets` Datasets of one `text` row a line.

UTF-8 files (plain, .gz, .bz2 or .xz) are split into lines here and written once, in `datasets`' cache format (an
Arrow stream), to `HF_DATASETS_CACHE/text-lines/`; `Dataset.from_file` memory-maps it as the builder's cache would.
Why not `datasets`' text builder: it decodes each chunk in Python, splits it with `StringIO.readlines` and strips
every line in a Python loop, in one process per file: 0.98 of the 2.42 s of a cold 100 MB LM prepare (40%). Here
NumPy finds a chunk's line ends and the lines become an Arrow string array without a Python object per line: 0.16 s.

The rows are exactly the builder's (tests/test_text_files.py checks both, and Python's own reading): the
builder opens a file with universal newlines, so "\\r\\n", "\\r" and "\\n" end a line and nothing else
does (not U+2028, U+0085 or form feeds); it drops each line's end, keeps empty lines, and utf-8-sig drops a
byte order mark at the start of the file only. Other encodings are read by the builder.

With `num_proc` N > 1 the files of a split are written as up to N Arrow files (parts) by N processes, large
files cut at line ends: the builder reads one file in one process whatever num_proc. A `.parts` file listing a
whole set is written last, under a lock, so a reader never sees half a set.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa

from data_modules.entries import disk_error, hold
from data_modules.errors import DataError
from data_modules.files import (
    check_text,
    check_utf8,
    files_fingerprint,
    fingerprint,
    is_compressed,
    is_empty,
    is_utf8,
    open_bytes,
    read_chunk,
    temporary_name,
    write_atomic,
)
from data_modules.ordered_pool import threaded_map

# With num_proc above the number of files `datasets` says it falls back, once per split; nothing to act on.
logging.getLogger("datasets.builder").addFilter(lambda record: "back to 1 for the" not in record.getMessage())

PART_BYTES = 16 * 2**20
"""With num_proc > 1 no file range is smaller (a smaller file is not cut): below it, starting a process costs
more than it saves."""
CHUNK = 16 * 2**20
"""Bytes read at a time; each chunk's lines are one record batch (few batch headers for the memory map to touch)."""
SCHEMA = pa.schema([("text", pa.string())])
FEATURES = datasets.Features({"text": datasets.Value("string")})
_BOM = b"\xef\xbb\xbf"
FORMAT = 1
"""Version of the files written here: part of their cache key."""


def load(files: dict[str, list[str]], encoding: str = "utf-8", num_proc: int = 1) -> datasets.DatasetDict:
    """Split -> files as a DatasetDict of one `text` row a line, read by up to `num_proc` processes (UTF-8: in
    parts, large files cut at line ends; other encodings: the builder, one process per file)."""
    for split, paths in files.items():
        if all(is_empty(f) for f in paths):
            raise DataError(f"The {split} split is empty: {', '.join(paths)} holds no text.")
    if not is_utf8(encoding):
        for path in (f for paths in files.values() for f in paths):
            check_text(path, encoding)
        procs = min(
            num_proc, max(len(paths) for paths in files.values())
        )  # the builder reads a file in one process
        # Record batches of the builder's 10 MB chunks, not of 1,000 lines: loading maps the Arrow file and reads
        # each batch's header, and the kernel maps the cached pages around each fault (64 KB): half the corpus.
        return datasets.load_dataset(
            "text", data_files=files, encoding=encoding, writer_batch_size=10**7,
            **({"num_proc": procs} if procs > 1 else {}),
        )  # fmt: skip
    folder = Path(datasets.config.HF_DATASETS_CACHE) / "text-lines"
    return datasets.DatasetDict(
        {split: _dataset(paths, folder, split, num_proc) for split, paths in files.items()}
    )


def _dataset(paths: list[str], folder: Path, split: str, num_proc: int) -> datasets.Dataset:
    """The lines of `paths`, in order, from their Arrow files (written first if they are not there)."""
    key = folder / fingerprint([files_fingerprint(paths), FORMAT], length=16)
    listing = key.with_suffix(".parts")  # the names of a whole set of parts, written last
    if not listing.exists():
        with hold(key.with_suffix(".lock"), "the lines of " + ", ".join(paths)):
            if not listing.exists():  # another process may have written them while this one waited
                names = list(
                    threaded_map(functools.partial(_write_part, key), parts(paths, num_proc), num_proc)
                )
                write_atomic(listing, "\n".join(names))
    info = datasets.DatasetInfo(features=FEATURES)
    sets = [
        datasets.Dataset.from_file(str(folder / n), info=info, split=split)
        for n in listing.read_text().split()
    ]
    return sets[0] if len(sets) == 1 else datasets.concatenate_datasets(sets)


def parts(paths: list[str], n: int) -> list[list[tuple[str, int, int | None]]]:
    """`paths` as up to `n` parts of about equal size, in order: each a list of (path, start, end) byte ranges.

    A plain file of at least 2 * PART_BYTES is cut into up to `n` ranges, each right after a "\\n" byte: a
    range's lines are then exactly the file's (universal newlines never join lines across a "\\n", and in UTF-8
    0x0A is only ever the newline). A .gz file is one range (end None: to its end)."""
    ranges = []
    for path in paths:
        size = None if is_compressed(path) else os.path.getsize(path)
        points = [0, size] if size is None or n < 2 or size < 2 * PART_BYTES else cut_points(path, n)
        ranges += [(path, a, b) for a, b in zip(points, points[1:])]
    sizes = [(b if b is not None else os.path.getsize(p)) - a for p, a, b in ranges]
    total, out, done = max(sum(sizes), 1), [[]], 0
    for r, size in zip(ranges, sizes):
        if out[-1] and done >= total * len(out) / n:  # this part has its share: start the next one
            out.append([])
        out[-1].append(r)
        done += size
    return out


def cut_points(path: str, n: int) -> list[int]:
    """Byte offsets [0, ..., size], each inner one right after a "\\n" byte."""
    size = os.path.getsize(path)
    points = [0]
    with open(path, "rb") as f:
        for k in range(1, min(n, size // PART_BYTES)):
            f.seek(max(size * k // n, points[-1]))
            f.readline()  # to the end of the line the target falls in
            if points[-1] < f.tell() < size:
                points.append(f.tell())
    return [*points, size]


def _write_part(key: Path, part: list[tuple[str, int, int | None]]) -> str:
    """Write one part's lines as an Arrow file named after `key` and the part's first range; its name."""
    path, start, _ = part[0]
    target = key.with_name(f"{key.name}-{fingerprint([path, start], length=8)}.arrow")
    tmp = temporary_name(target)
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, SCHEMA) as writer:
            for path, start, end in part:
                for lines in lines_of(path, start=start, end=end):
                    writer.write_batch(pa.record_batch([lines], schema=SCHEMA))
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise disk_error(target, e) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target.name


def lines_of(
    path: str, chunk: int | None = None, start: int = 0, end: int | None = None
) -> Iterator[pa.Array]:
    """The lines of a UTF-8 file (.gz: decompressed) from byte `start` (at a line start) to `end` (None: the
    file's end), as string arrays of about `chunk` bytes each. A byte order mark is dropped at byte 0 only.

    Each read is cut after its last line end; the unfinished line goes on in the next read. A "\\r" that ends a
    read is not a cut: a "\\n" may follow it (one line end, "\\r\\n"). A line longer than `chunk` grows the read.
    Reads are split in place, never copied whole: copying bytes holds the GIL, and files are split by several
    threads (`threaded_map`)."""
    chunk = chunk or CHUNK
    left = float("inf") if end is None else end - start

    def read(size: int) -> bytes:
        nonlocal left
        data = read_chunk(f, path, int(min(size, left)))
        left -= len(data)
        return data

    with open_bytes(path) as f:
        if start:
            f.seek(start)
        data = read(max(chunk, len(_BOM)))
        if start == 0 and data.startswith(_BOM):
            data = data[len(_BOM) :]
        at = 0  # data[at:] is not split yet
        while True:
            more = read(chunk)
            if not more:  # the end of the file: what is left is lines, the last one maybe without its end
                if len(data) > at:
                    yield _split(path, data, at, len(data))
                return
            cut = max(data.rfind(b"\n", at), data.rfind(b"\r", at, len(data) - 1)) + 1
            if cut > at:
                yield _split(path, data, at, cut)
                at = cut
            first = _first_line_end(more)
            if at == len(data):
                data, at = more, 0
            elif (
                first
            ):  # the unfinished line and the rest of it in `more`: a copy of one line, not of the read
                yield _split(path, data[at:] + more[:first], 0, len(data) - at + first)
                data, at = more, first
            else:  # no line ends in `more`: a line longer than a read
                data, at = data[at:] + more, 0


def _first_line_end(data: bytes) -> int:
    """Where the first line of `data` ends (after its "\\n", "\\r\\n" or "\\r"); 0 when none surely ends in it (a
    final "\\r" may be the first half of "\\r\\n")."""
    n, r = data.find(b"\n"), data.find(b"\r")
    if r < 0 or 0 <= n < r:
        return n + 1
    if r + 1 < len(data):
        return r + 2 if data[r + 1] == 10 else r + 1
    return 0


def _split(path: str, data: bytes, begin: int, end: int) -> pa.Array:
    """`data[begin:end]` (whole lines; the last one may lack its end) as one string per line, line ends dropped."""
    if (
        data.find(b"\r", begin, end) >= 0
    ):  # universal newlines: "\r\n" and a lone "\r" end a line as "\n" does
        data = data[begin:end].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        begin, end = 0, len(data)
    raw = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
    newline = raw == 10
    ends = np.flatnonzero(newline)  # (lines,) byte offset of each "\n"
    text = raw[~newline]
    offsets = [np.zeros(1, np.int64), ends - np.arange(len(ends))]  # where each line ends in `text`
    if raw[-1] != 10:
        offsets.append(np.array([len(text)]))  # the file's last line, without its end
    if len(text) >= 2**31:
        raise DataError(f"{path}: a line of more than 2 GB; is this a text file of lines?")
    offsets = np.concatenate(offsets).astype(np.int32)
    lines = pa.StringArray.from_buffers(len(offsets) - 1, _arrow_owned(offsets), _arrow_owned(text))
    try:
        lines.validate(full=True)  # UTF-8, checked in C++
    except pa.ArrowInvalid:
        check_utf8(path)  # names the file and the byte offset
        raise DataError(f"{path}: invalid UTF-8.") from None
    return lines


def _arrow_owned(array: np.ndarray) -> pa.Buffer:
    """A copy of `array` in memory Arrow allocated: a buffer wrapping a NumPy array keeps a Python reference,
    released under the GIL whenever Arrow drops it, possibly from another thread or while the interpreter exits."""
    buffer = pa.allocate_buffer(array.nbytes)
    np.frombuffer(buffer, dtype=array.dtype)[:] = array
    return buffer
