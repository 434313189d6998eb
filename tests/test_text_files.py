"""Loading text files in several processes: a large file cut into pieces at line ends gives exactly the rows of
reading it whole (line ends of every kind, byte order marks, no final newline), `datasets` finds its cache
again on the next load, no piece is left, and the LM cache built so equals the one built in one process."""

from __future__ import annotations

import random

import numpy as np
import pytest

from data_modules import text_files

PIECES = [
    "plain words",
    "",
    "crlf line\r",
    "lone cr\rinside",
    "\ufeffstarts with a byte order mark",
    "non-ASCII: naïve café – 東京",
    "line\u2028separator and \x85 next-line (not line ends to the text builder)",
    "   ",
    "tab\tseparated",
]


def write_text(path, rng: random.Random, lines: int, final_newline: bool) -> None:
    text = "\n".join(rng.choice(PIECES) for _ in range(lines)) + ("\n" if final_newline else "")
    path.write_bytes(("\ufeff" + text).encode())  # the file itself starts with a byte order mark


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(text_files, "PIECE_BYTES", 200)


@pytest.mark.parametrize("final_newline", [True, False])
def test_pieces_give_the_rows_of_the_whole_file(tmp_path, small_pieces, final_newline):
    path = tmp_path / "train.txt"
    write_text(path, random.Random(final_newline), 3000, final_newline)
    data = path.read_bytes()
    points = text_files.cut_points(str(path), 7)
    assert len(points) == 8 and points[0] == 0 and points[-1] == len(data)
    assert all(data[p - 1 : p] == b"\n" and not data[p:].startswith(b"\xef\xbb\xbf") for p in points[1:-1])
    whole = text_files.load({"train": [str(path)]}, num_proc=1)["train"]["text"]
    cut = text_files.load({"train": [str(path)]}, num_proc=3)["train"]["text"]
    # Python's universal newlines (as the builder opens files), then a split at "\n" only
    text = path.read_text(encoding="utf-8-sig")
    assert cut == whole == (text[:-1] if text.endswith("\n") else text).split("\n")
    assert not [
        p for p in (tmp_path.parent / "hf-datasets").rglob("*-of-*") if p.suffix == ".txt"
    ]  # none left


def test_a_second_load_finds_the_cache_of_the_first(tmp_path, small_pieces, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf")
    path = tmp_path / "train.txt"
    write_text(path, random.Random(5), 2000, True)
    first = text_files.load({"train": [str(path)]}, num_proc=2)["train"]
    second = text_files.load({"train": [str(path)]}, num_proc=2)["train"]
    assert len(first.cache_files) == 2  # read by two processes
    assert first.cache_files == second.cache_files and first["text"] == second["text"]
    assert not list((tmp_path / "hf" / "text-pieces").glob("*/*"))


def test_lm_ids_from_a_file_read_in_pieces_equal_one_process(tmp_path, small_pieces):
    from data_modules.lm.datamodule import LMDataConfig, LMDataModule

    rng = random.Random(2)
    for split in ("train", "valid", "test"):
        write_text(tmp_path / f"{split}.txt", rng, 1500 if split == "train" else 50, True)
    ids = {}
    for n in (1, 2):
        dm = LMDataModule(LMDataConfig(path=str(tmp_path), cache_dir=str(tmp_path / f"cache{n}"), num_proc=n))
        dm.setup()
        ids[n] = {k: np.asarray(v).tolist() for k, v in dm.ids.items()}
    assert ids[1] == ids[2] and len(ids[1]["train"]) > 1500
