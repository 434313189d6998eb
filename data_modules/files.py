"""Files the pipeline writes and reads: atomic writes, fingerprints, and the UTF-8 check (one of each).

Every file the pipeline writes for later runs (caches, tokenizers, run files, outputs) goes through
`write_atomic`: a temporary name in the same folder, flushed to disk, then renamed, so a crash or a
full disk never leaves a half-written file under the real name.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import hashlib
import json
import logging
import lzma
import os
import re
import shutil
import signal
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from data_modules.errors import DataError

log = logging.getLogger(__name__)
HOST = socket.gethostname().replace(".", "_")
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.]+)-(?P<pid>\d+)\.tmp(\..*)?$")


def temporary_name(path: Path, suffix: str = ".tmp") -> Path:
    """A hidden sibling of `path` private to this process (the same filesystem, so a rename is atomic).

    The name holds host and PID so that the next start can tell a dead process's leftover from a live
    writer's file (`remove_stale_temporaries`)."""
    return path.with_name(f".{path.name}.{HOST}-{os.getpid()}{suffix}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete temporary files (and folders) that a killed process of this host left in `folder`."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        m = _TEMPORARY.match(p.name)
        if not m or m["host"] != HOST or pid_alive(int(m["pid"])):
            continue
        with contextlib.suppress(OSError):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
    if removed:
        log.info("Removed %d temporary file(s) left by killed processes in %s", len(removed), folder)
    return removed


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the block ends (a rename must not be cut off halfway; main thread only)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (ValueError, OSError):  # not the main thread or not supported: nothing to defer
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that appears under `path`, whole, only when the block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        # An interrupt arriving now must not leave the temporary file behind.
        with signals_deferred():
            tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write-then-rename: readers see the old file or the whole new one, never a part."""
    with atomic_open(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def fingerprint(*parts: object, length: int = 20) -> str:
    """Fingerprint of JSON-serialisable `parts` (cache keys: whatever decides a cache's content)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def files_fingerprint(files: list[str]) -> str:
    """Identity of local files (path, size, mtime): cheap, and changes whenever a file is rewritten."""
    return fingerprint(
        [(os.path.abspath(f), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files], length=16
    )


def check_utf8(path: str, chunk: int = 1 << 24) -> None:
    """Raise a DataError naming the file and byte offset of the first invalid UTF-8 byte.

    Streams the file through an incremental decoder, so a large corpus is never held in memory;
    the `text` builder would otherwise fail deep inside `datasets` with a traceback. A .gz file is
    checked after decompression (the offset counts decompressed bytes), and a damaged one is named.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    where = " of the decompressed text" if is_compressed(path) else ""
    with open_bytes(path) as f:
        while True:
            data = read_chunk(f, path, chunk)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                carried = len(e.object) - len(data)  # an incomplete sequence from the last chunk comes first
                line = lines + data[: max(0, e.start - carried)].count(b"\n") + 1
                raise DataError(
                    f"{path}: invalid UTF-8 at byte offset {offset + e.start - carried}{where} (line {line}): "
                    f"{e.reason}. Not UTF-8? Set --data.encoding to the file's encoding (latin-1, cp1252, ...)."
                ) from None
            if not data:
                return
            offset += len(data)
            lines += data.count(b"\n")


def is_empty(path: str) -> bool:
    """No text: a zero-byte file, or a compressed one that decompresses to nothing (its own size is never 0)."""
    if not is_compressed(path):
        return os.path.getsize(path) == 0
    with open_bytes(path) as f:
        return not read_chunk(f, path, 1)


# Text and CoNLL files may come compressed (corpora are often shipped so); `datasets`' builders decompress the same
# endings themselves, so checks and readers read what they read.
_OPENERS = {".gz": ("gzip", gzip.open), ".bz2": ("bzip2", bz2.open), ".xz": ("xz", lzma.open)}


def is_compressed(path: str) -> bool:
    """Whether `path` is read through a decompressor (.gz, .bz2, .xz)."""
    return os.path.splitext(path)[1].lower() in _OPENERS


def unpacked_name(path: str) -> str:
    """`path` without its compression ending: "train.conllu.gz" -> "train.conllu" (the format's own ending)."""
    return os.path.splitext(path)[0] if is_compressed(path) else path


def open_bytes(path: str) -> BinaryIO:
    """The bytes of `path`, decompressed when it is compressed."""
    _, opener = _OPENERS.get(os.path.splitext(path)[1].lower(), ("", open))
    return opener(path, "rb")


def read_chunk(f: BinaryIO, path: str, size: int) -> bytes:
    try:
        return f.read(size)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:  # a damaged or truncated compressed file
        if not is_compressed(path):
            raise
        kind, _ = _OPENERS[os.path.splitext(path)[1].lower()]
        raise DataError(f"{path}: not a readable {kind} file: {e}") from None


def read_utf8(path: str) -> str:
    """A whole (small) file as text, after `check_utf8` has vouched for its bytes."""
    return read_text(path)


def is_utf8(encoding: str) -> bool:
    """Whether `encoding` is UTF-8 (utf8, UTF-8, utf_8, ...); an unknown codec is one line naming the setting."""
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        raise DataError(
            f"Unknown text encoding '{encoding}' (--data.encoding): try utf-8 or latin-1."
        ) from None


def check_text(path: str, encoding: str = "utf-8") -> None:
    """`check_utf8` for UTF-8; any other encoding (latin-1, cp1252, ...) must at least be a known codec."""
    if is_utf8(encoding):
        check_utf8(path)


def read_text(path: str, encoding: str = "utf-8") -> str:
    """A whole (small) file as text in `encoding`, without a UTF-8 byte-order mark; an undecodable byte is one
    error naming the file and offset."""
    check_text(path, encoding)
    try:
        with open_bytes(path) as f:
            text = read_chunk(f, path, -1).decode(encoding)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: invalid {encoding} at byte offset {e.start}: {e.reason}") from None
    return text[1:] if text.startswith("\ufeff") else text
