"""Cache entries that heal, and the lock that guards building one.

An entry (a file or a folder of the cache) is written whole (temporary name + rename) together with a
manifest of sizes and checksums; on use the manifest is checked, and a damaged entry is reported in one
line and rebuilt. Building takes the entry's own lock; a whole entry is read without one, so a
read-only cache works. A process waiting for a lock says what it waits for and who holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from data_modules.errors import DataError
from data_modules.files import write_atomic

log = logging.getLogger(__name__)


# ---- locks ------------------------------------------------------------------------------------------------
class Locked(DataError):
    """A lock that `hold(..., wait=False)` found held by another process."""


def _holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "another process"
    return text or "another process"


@contextlib.contextmanager
def hold(path: str | Path, what: str, wait: bool = True, every: float = 30.0) -> Iterator[None]:
    """An exclusive lock on `path` (flock: released by the kernel when its process dies, so a dead holder
    never blocks anyone). The file names the holder ("host pid N since T"); a waiter says every `every`
    seconds what it waits for and who holds it; with wait=False a held lock raises `Locked` at once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        waited = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise Locked(f"{what} is in use by {_holder(path)} (lock file {path}).") from None
                if waited % every == 0:
                    log.warning("Waiting for %s: held by %s (lock file %s).", what, _holder(path), path)
                time.sleep(1.0)
                waited += 1.0
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, f"{socket.gethostname()} pid {os.getpid()} since {time.strftime('%H:%M:%S')}\n".encode(), 0
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # an empty lock file is a free one (and a released run reads as unchanged)
    finally:
        os.close(fd)  # closing releases the flock


# ---- cache entries ------------------------------------------------------------------------------------------
def _digest(path: Path, kind: str = "crc32") -> str:
    """The checksum a manifest records: "crc32:<hex>" (written since 2026-11-28), or a bare blake2b hex digest
    (older caches, still read). The checksum finds damage (a torn or truncated write, a flipped block), not
    tampering: CRC-32, as zip and gzip use, reads 40 MB of token ids in 6 ms where blake2b takes 30 ms, and
    every run checks its whole cache before it starts (`make bench`: a warm prepare is < 5% of a cold one)."""
    h = hashlib.blake2b(digest_size=16) if kind == "blake2b" else None
    crc, block = 0, bytearray(1 << 22)  # one buffer for every read: no fresh pages per block
    with open(path, "rb", buffering=0) as f, memoryview(block) as view:
        while n := f.readinto(view):
            if h is None:
                crc = zlib.crc32(view[:n], crc)
            else:
                h.update(view[:n])
    return f"crc32:{crc:08x}" if h is None else h.hexdigest()


def _matches(path: Path, recorded: str) -> bool:
    return _digest(path, "crc32" if recorded.startswith("crc32:") else "blake2b") == recorded


def manifest_of(files: list[Path], root: Path) -> dict[str, list]:
    """name relative to `root` -> [size, checksum]: what a complete cache entry holds."""
    return {str(f.relative_to(root)): [f.stat().st_size, _digest(f)] for f in sorted(files)}


def manifest_path(entry: Path) -> Path:
    """A file entry's manifest is its sibling `<name>.manifest`; a folder entry's is `<folder>/MANIFEST`."""
    return entry / "MANIFEST" if entry.is_dir() else entry.with_name(entry.name + ".manifest")


def write_manifest(entry: Path, target: Path | None = None, meta: dict | None = None) -> None:
    """Record the sizes and checksums of `entry` (a file, or every file under a folder). `target` is the
    manifest's path when `entry` is still a temporary folder or file that will be renamed. A file entry's
    manifest may also hold `meta`, facts about its content (read back with `manifest_meta`)."""
    files = [f for f in entry.rglob("*") if f.is_file()] if entry.is_dir() else [entry]
    root = entry if entry.is_dir() else entry.parent
    data = manifest_of(files, root)
    if not entry.is_dir():
        data = {"": next(iter(data.values()))} | ({"meta": meta} if meta else {})
    elif meta:
        raise ValueError("only a file entry's manifest holds meta")  # a folder's keys are its file names
    write_atomic(target or manifest_path(entry), json.dumps(data, sort_keys=True))


def manifest_meta(entry: Path) -> dict:
    """The `meta` a file entry's manifest records; {} for a manifest written without it (older caches)."""
    try:
        return json.loads(manifest_path(entry).read_text()).get("meta", {})
    except (OSError, ValueError):
        return {}


def entry_damage(entry: Path) -> str | None:
    """None when `entry` is whole (its manifest's sizes and checksums match), else why not."""
    if not entry.exists():
        return "missing"
    mpath = manifest_path(entry)
    try:
        recorded = json.loads(mpath.read_text())
    except (OSError, ValueError):
        return "it has no readable manifest"
    if not entry.is_dir():
        recorded = {entry.name: recorded.get("")}
    root = entry if entry.is_dir() else entry.parent
    for name, want in recorded.items():
        f = root / name
        if not f.is_file():
            return f"{name} is missing"
        if not want or f.stat().st_size != want[0]:
            return f"{name} has {f.stat().st_size} bytes, expected {want and want[0]}"
        if not _matches(f, want[1]):
            return f"{name} does not match its checksum"
    return None


def disk_error(path: Path, e: OSError) -> DataError:
    """A failed cache write as one line (a full disk said so plainly)."""
    why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
    return DataError(f"Could not write the cache file '{path}': {why}. Nothing partial was kept.")


def build_entry(entry: Path, build: Callable[[], None], what: str) -> None:
    """Build a cache entry under its own lock unless it is whole; a damaged one is reported and rebuilt.
    `build()` writes `entry` (atomically) and its manifest. A whole entry is read without any lock, so a
    read-only cache works."""
    if entry_damage(entry) is None:
        return
    # Lock files stay (removing one races with a waiter that opened it) in one folder, out of the way.
    with hold(entry.parent / "locks" / f"{entry.name}.lock", f"the cache entry {entry.name} ({what})"):
        why = entry_damage(entry)
        if why is None:
            return  # another process built it while we waited
        if why != "missing":
            log.warning("Cache entry %s is damaged (%s); rebuilding it.", entry, why)
        build()
