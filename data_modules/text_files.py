"""Plain text files loaded by `datasets`' text builder (one row a line), large UTF-8 files in several processes.

Large files are cut into pieces at line ends first. Why: `load_dataset("text", num_proc=N)` parallelises over files, so one large file is read by one process:
at 1 GB that was 20 of the 53 s of a cold LM prepare (session 8), whatever `--data.num_proc`. Cut right
after a "\\n" byte, the pieces' lines are exactly the file's lines: the builder's universal newlines never
join lines across a "\\n", and in UTF-8 the byte 0x0A is only ever the newline. A piece never starts with a
byte order mark (utf-8-sig would drop it there; inside the file it is text).

The pieces have stable names and the file's mtime, because `datasets` keys its cache on each data file's
path and mtime: the next load finds its Arrow cache again. They are removed once loaded (the Arrow cache
holds the text), under a lock, so two processes loading the same file do not remove each other's pieces.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import datasets

from data_modules.entries import hold
from data_modules.errors import DataError
from data_modules.files import check_text, files_fingerprint, is_empty, temporary_name

# num_proc is the pieces of the largest split; `datasets` says so for each split of one file (a warning per load).
logging.getLogger("datasets.builder").addFilter(lambda record: "back to 1 for the" not in record.getMessage())

PIECE_BYTES = 16 * 2**20
"""No piece is smaller (a smaller file is not cut): below this, starting processes costs more than it saves."""
_BOM = b"\xef\xbb\xbf"


def load(files: dict[str, list[str]], encoding: str = "utf-8", num_proc: int = 1) -> datasets.DatasetDict:
    """Split -> files as a DatasetDict of one `text` row a line, read by up to `num_proc` processes."""
    # The `text` builder fails on a split of empty files with an error about "instructions"; say what is wrong.
    for split, paths in files.items():
        if all(is_empty(f) for f in paths):
            raise DataError(f"The {split} split is empty: {', '.join(paths)} holds no text.")
        for path in paths:
            check_text(path, encoding)
    # utf-8-sig reads plain UTF-8 too, and drops a BOM that would otherwise start the first line.
    utf8 = codecs.lookup(encoding).name == "utf-8"
    folder = Path(datasets.config.HF_DATASETS_CACHE) / "text-pieces"
    with cut(files, num_proc if utf8 else 1, folder) as read:
        procs = min(
            num_proc, max(len(paths) for paths in read.values())
        )  # the builder reads a file in one process
        # Record batches of the builder's 10 MB chunks, not of 1,000 lines: loading maps the Arrow file and reads
        # each batch's header, and the kernel maps the cached pages around each fault (64 KB): half the corpus.
        return datasets.load_dataset(
            "text", data_files=read, encoding="utf-8-sig" if utf8 else encoding, writer_batch_size=10**7,
            **({"num_proc": procs} if procs > 1 else {}),
        )  # fmt: skip


@contextlib.contextmanager
def cut(files: dict[str, list[str]], pieces: int, folder: Path) -> Iterator[dict[str, list[str]]]:
    """`files` (split -> paths) with each plain file of at least 2 * PIECE_BYTES replaced by up to `pieces`
    pieces in `folder`, in order; the pieces exist inside the block only."""
    big = sorted({f for paths in files.values() for f in paths if _cuttable(f)})
    if pieces < 2 or not big:
        yield files
        return
    where = folder / files_fingerprint(big)
    with hold(where.with_name(where.name + ".lock"), "the text pieces of " + ", ".join(big)):
        try:
            made = {f: _pieces(f, pieces, where / str(i)) for i, f in enumerate(big)}
            yield {split: [p for f in paths for p in made.get(f, [f])] for split, paths in files.items()}
        finally:
            shutil.rmtree(where, ignore_errors=True)


def _cuttable(path: str) -> bool:
    return not path.endswith(".gz") and os.path.isfile(path) and os.path.getsize(path) >= 2 * PIECE_BYTES


def cut_points(path: str, pieces: int) -> list[int]:
    """Byte offsets [0, ..., size]: each inner one right after a "\\n" and not before a byte order mark."""
    size = os.path.getsize(path)
    points = [0]
    with open(path, "rb") as f:
        for k in range(1, min(pieces, size // PIECE_BYTES)):
            f.seek(max(size * k // pieces, points[-1]))
            f.readline()  # to the end of the line the target falls in
            while f.peek(3)[:3] == _BOM:
                f.readline()
            if points[-1] < f.tell() < size:
                points.append(f.tell())
    return [*points, size]


def _pieces(path: str, pieces: int, folder: Path) -> list[str]:
    points = cut_points(path, pieces)
    if len(points) == 2:
        return [path]
    folder.mkdir(parents=True, exist_ok=True)
    stat = os.stat(path)
    out = []
    with open(path, "rb") as src:
        for i, (start, end) in enumerate(zip(points, points[1:])):
            piece = folder / f"{i:05d}-of-{len(points) - 1:05d}{''.join(Path(path).suffixes)}"
            tmp = temporary_name(piece)
            with open(tmp, "wb", buffering=0) as dst:
                _copy(src, dst, start, end - start)
            os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the file's mtime: a stable cache key
            os.replace(tmp, piece)
            out.append(str(piece))
    return out


def _copy(src, dst, offset: int, count: int) -> None:
    """`count` bytes of `src` from `offset` to `dst` (unbuffered): in the kernel where it can (copy_file_range)."""
    fast = getattr(os, "copy_file_range", None)  # Linux only
    while count > 0:
        n = 0
        if fast is not None:
            try:
                n = fast(src.fileno(), dst.fileno(), count, offset)
            except OSError:  # not across these file systems, or not on this kernel: copy through this process
                fast = None
        if fast is None:
            src.seek(offset)
            n = dst.write(src.read(min(count, 1 << 24)))
        if n == 0:
            raise OSError(f"{src.name} ended before byte {offset + count}")
        offset, count = offset + n, count - n
