"""Reading text files into line rows: the rows are exactly those of `datasets`' text builder and of Python's
universal-newline reading (line ends of every kind, byte order marks, no final newline, lines across read
boundaries, gzip), the written cache is found again and follows a changed file, and bad bytes are one line."""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
from pathlib import Path

import datasets
import pytest

from data_modules import text_files
from data_modules.errors import DataError

PIECES = [
    "plain words",
    "",
    "crlf line\r",
    "lone cr\rinside",
    "\r",
    "\ufeffstarts with a byte order mark",
    "non-ASCII: naïve café – 東京",
    "line\u2028separator, \x85 next-line, \x0c form feed, \x1c (not line ends to the text builder)",
    "   ",
    "tab\tseparated",
]


def write_text(path, rng: random.Random, lines: int, final: str) -> str:
    """A file (starting with a byte order mark) of random pieces joined by "\\n" and ending with `final`."""
    text = "\n".join(rng.choice(PIECES) for _ in range(lines)) + final
    data = ("\ufeff" + text).encode()
    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}.get(Path(path).suffix)
    if compress:
        data = compress(data)
    path.write_bytes(data)
    return text


def python_lines(text: str) -> list[str]:
    """The oracle: Python's universal newlines (as the builder opens files), then a split at "\\n" only."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return (text[:-1] if text.endswith("\n") else text).split("\n") if text else []


def builder_lines(path) -> list[str]:
    """The second oracle: `datasets`' own text builder."""
    return datasets.load_dataset("text", data_files={"train": str(path)}, encoding="utf-8-sig")["train"][
        "text"
    ]


@pytest.mark.parametrize("final", ["\n", "", "\r", "\r\n", "\n\n"])
@pytest.mark.parametrize("chunk", [1, 2, 7, 64, None])
def test_rows_equal_pythons_reading_whatever_the_read_size(tmp_path, final, chunk):
    path = tmp_path / "train.txt"
    text = write_text(path, random.Random(f"{final!r}{chunk}"), 300, final)
    got = [line for array in text_files.lines_of(str(path), chunk) for line in array.to_pylist()]
    assert got == python_lines(text)


@pytest.mark.parametrize("name", ["train.txt", "train.txt.gz", "train.txt.bz2", "train.txt.xz"])
def test_loaded_rows_equal_the_text_builders(tmp_path, name):
    path = tmp_path / name
    text = write_text(path, random.Random(3), 2000, "")
    got = text_files.load({"train": [str(path)]})["train"]
    assert got.features == datasets.Features({"text": datasets.Value("string")})
    rows = list(got["text"])
    assert rows == python_lines(text)
    expected = list(builder_lines(path))
    if name != "train.txt":  # the builder keeps a compressed file's byte order mark as text; we drop it
        assert expected[0] == "\ufeff" + rows[0]
        expected[0] = expected[0][1:]
    assert rows == expected


def test_several_files_are_one_split_in_order(tmp_path):
    rng = random.Random(4)
    paths = [tmp_path / f"part{i}.txt" for i in range(3)]
    texts = [write_text(p, rng, 50, "\n" if i else "") for i, p in enumerate(paths)]
    got = text_files.load({"train": [str(p) for p in paths]})["train"]["text"]
    assert got == [line for t in texts for line in python_lines(t)]


def test_a_second_load_reads_the_cache_and_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / "train.txt"
    write_text(path, random.Random(5), 500, "\n")
    first = text_files.load({"train": [str(path)]})["train"]
    written = [f["filename"] for f in first.cache_files]
    mtime = [p.stat().st_mtime_ns for p in map(type(tmp_path), written)]
    second = text_files.load({"train": [str(path)]})["train"]
    assert [f["filename"] for f in second.cache_files] == written
    assert [p.stat().st_mtime_ns for p in map(type(tmp_path), written)] == mtime  # not rewritten
    text = write_text(path, random.Random(6), 400, "\n")
    assert text_files.load({"train": [str(path)]})["train"]["text"] == python_lines(text)


def test_invalid_utf8_names_the_file_and_offset_and_leaves_no_cache(tmp_path):
    path = tmp_path / "train.txt"
    path.write_bytes(b"good line\n" * 10 + b"bad \xff byte\n")
    with pytest.raises(DataError, match=r"train.txt: invalid UTF-8 at byte offset 104"):
        text_files.load({"train": [str(path)]})
    assert not [p for p in (tmp_path.parent / "hf-datasets").rglob("*.arrow") if "text-lines" in str(p)]


def test_other_encodings_go_through_the_builder(tmp_path):
    path = tmp_path / "train.txt"
    path.write_bytes("caf\xe9 cr\r\nna\xefve\n".encode("latin-1"))
    assert text_files.load({"train": [str(path)]}, encoding="latin-1")["train"]["text"] == [
        "café cr",
        "naïve",
    ]
    with pytest.raises(DataError, match="Unknown text encoding 'klingon'"):
        text_files.load({"train": [str(path)]}, encoding="klingon")


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(text_files, "PART_BYTES", 200)


@pytest.mark.parametrize("num_proc", [2, 3])
def test_files_read_in_parts_by_several_workers_give_the_same_rows(tmp_path, small_parts, num_proc):
    rng = random.Random(num_proc)
    paths = [tmp_path / "a.txt", tmp_path / "b.txt.gz", tmp_path / "c.txt", tmp_path / "d.txt"]
    texts = [write_text(p, rng, n, "") for p, n in zip(paths, (3000, 400, 20, 2500))]
    files = {"train": [str(p) for p in paths]}
    points = text_files.cut_points(str(paths[0]), 7)
    data = paths[0].read_bytes()
    assert len(points) == 8 and points[0] == 0 and points[-1] == len(data)
    assert all(data[p - 1 : p] == b"\n" for p in points[1:-1])
    groups = text_files.parts(files["train"], num_proc)
    assert len(groups) == num_proc and sum(len(g) for g in groups) > len(paths)  # large files were cut
    got = text_files.load(files, num_proc=num_proc)["train"]
    assert len(got.cache_files) == num_proc
    assert list(got["text"]) == [line for t in texts for line in python_lines(t)]
    again = text_files.load(files, num_proc=num_proc)["train"]
    assert again.cache_files == got.cache_files


def test_a_byte_order_mark_at_a_cut_is_text(tmp_path, small_parts):
    path = tmp_path / "train.txt"
    text = "\n".join(["\ufefffirst"] + [f"\ufeffline {i}" for i in range(400)]) + "\n"
    path.write_bytes(text.encode())
    rows = list(text_files.load({"train": [str(path)]}, num_proc=3)["train"]["text"])
    assert rows == ["first"] + [f"\ufeffline {i}" for i in range(400)]


def test_lm_ids_from_files_read_in_parts_equal_one_process(tmp_path, small_parts):
    import numpy as np

    from data_modules.lm.config import LMDataConfig
    from data_modules.lm.datamodule import LMDataModule

    rng = random.Random(2)
    for split in ("train", "valid", "test"):
        write_text(tmp_path / f"{split}.txt", rng, 1500 if split == "train" else 50, "\n")
    ids = {}
    for n in (1, 2):
        dm = LMDataModule(LMDataConfig(path=str(tmp_path), cache_dir=str(tmp_path / f"cache{n}"), num_proc=n))
        dm.setup()
        ids[n] = {k: np.asarray(v).tolist() for k, v in dm.ids.items()}
    assert ids[1] == ids[2] and len(ids[1]["train"]) > 1500
