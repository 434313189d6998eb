"""Files that cannot be read are one line naming the file: data files `datasets` fails on (a malformed JSON line, a
CSV row with more fields, another encoding) and text whose bytes are not UTF-8 (with their line, and the option
that reads other encodings). Before: a `DatasetGenerationError` traceback for the data files; the byte offset alone
for text."""

from __future__ import annotations

import random

import pytest

from data_modules.errors import DataError
from data_modules.files import check_utf8
from tests.test_tagging_data import module

JSON = '{"tokens": ["a", "b"], "ner_tags": ["O", "O"]}\n{"tokens": ["c"], "ner_tags": ["B-X"]\n'
CSV = 'Sentence #,Word,Tag\n"Sentence: 1",a,O\n,b,O\n"Sentence: 2",c,B-X,extra,more\n'
LATIN = 'Sentence #,Word,Tag\n"Sentence: 1",Z\xfcrich,B-LOC\n'

CASES = {
    "json": ("jsonl", JSON, "utf-8", "JSON parse error"),
    "csv": ("csv", CSV, "utf-8", "Expected 3 fields in line 4, saw 5"),
    "latin-1": ("csv", LATIN, "latin-1", ".csv: invalid UTF-8 at byte offset 35 (line 2): invalid"),
}


@pytest.mark.parametrize("route", ["folder", "files"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_data_file_datasets_cannot_read_is_one_line(tmp_path, route, case):
    ext, text, written, expected = CASES[case]
    (tmp_path / "corpus").mkdir()
    for split in ("train", "valid", "test"):
        (tmp_path / "corpus" / f"{split}.{ext}").write_bytes(text.encode(written))
    files = {f"{s}_files": str(tmp_path / "corpus" / f"{n}.{ext}") for s, n in
             (("train", "train"), ("validation", "valid"), ("test", "test"))}  # fmt: skip
    where = {"path": str(tmp_path / "corpus")} if route == "folder" else files
    with pytest.raises(DataError, match="Could not read|invalid UTF-8") as e:
        module(tmp_path / "cache", **where)
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_invalid_utf8_names_its_line_across_chunks_and_the_encoding_option(tmp_path):
    rng = random.Random(0)
    for _ in range(20):
        lines = [" ".join("w" * rng.randint(1, 5) for _ in range(rng.randint(0, 6))) for _ in range(30)]
        bad = rng.randrange(30)
        data = b"\n".join(line.encode() + (b"\xe9" if i == bad else b"") for i, line in enumerate(lines))
        (tmp_path / "t.txt").write_bytes(data)
        offset = data.index(b"\xe9")
        line = data[:offset].count(b"\n") + 1
        with pytest.raises(DataError) as e:
            check_utf8(str(tmp_path / "t.txt"), chunk=rng.randint(1, 16))
        assert f"byte offset {offset} (line {line}):" in str(e.value)
        assert str(e.value).endswith("Set --data.encoding to the file's encoding (latin-1, cp1252, ...).")
