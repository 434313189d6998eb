"""Cache entries' manifests: CRC-32 checksums find a changed byte, and older manifests (blake2b) still verify."""

from __future__ import annotations

import hashlib
import json
import os
import zlib

from data_modules.entries import entry_damage, manifest_path, write_manifest


def flip_one_byte(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


def test_the_checksum_is_the_files_crc32_and_finds_one_changed_byte(tmp_path):
    entry = tmp_path / "ids.npy"
    entry.write_bytes(os.urandom(3 * 2**22 + 17))  # blocks of 4 MiB and a partial one
    write_manifest(entry, meta={"unk": 3})
    recorded = json.loads(manifest_path(entry).read_text())
    assert recorded[""] == [entry.stat().st_size, f"crc32:{zlib.crc32(entry.read_bytes()):08x}"]
    assert recorded["meta"] == {"unk": 3}
    assert entry_damage(entry) is None
    flip_one_byte(entry, 2**22 + 5)  # same size: only the checksum can tell
    assert entry_damage(entry) == "ids.npy does not match its checksum"


def test_a_folder_entry_checks_every_file(tmp_path):
    entry = tmp_path / "shard"
    (entry / "sub").mkdir(parents=True)
    (entry / "a.arrow").write_bytes(b"abc" * 1000)
    (entry / "sub" / "b.json").write_text("{}")
    write_manifest(entry)
    assert entry_damage(entry) is None
    flip_one_byte(entry / "a.arrow", 10)
    assert entry_damage(entry) == "a.arrow does not match its checksum"


def test_manifests_written_with_blake2b_still_verify(tmp_path):
    """Caches written before the CRC-32 change record a bare 32-digit blake2b digest: they stay whole."""
    entry = tmp_path / "tokenizer.json"
    entry.write_bytes(os.urandom(5 * 2**20))
    old = hashlib.blake2b(entry.read_bytes(), digest_size=16).hexdigest()
    manifest_path(entry).write_text(json.dumps({"": [entry.stat().st_size, old]}))
    assert entry_damage(entry) is None
    flip_one_byte(entry, 123)
    assert entry_damage(entry) == "tokenizer.json does not match its checksum"
