"""The LM's text is read batch by batch with plain reads: the same lines in the same order as the dataset,
resident memory flat whatever the corpus size, and the same token ids from 1 or several processes."""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow.compute as pc
import pytest

from data_modules.lm import text_stream, token_cache
from data_modules.lm.tokenizer import EOS, train_tokenizer


def text_split(tmp_path, files: dict[str, str]) -> datasets.Dataset:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    paths = [str(tmp_path / name) for name in files]
    return datasets.load_dataset("text", data_files={"train": paths}, cache_dir=str(tmp_path / "hf"))["train"]


def lines_of(batches) -> list[str]:
    return [line for batch in batches for line in batch.to_pylist()]


def test_batches_are_the_dataset_in_order(tmp_path):
    ds = text_split(tmp_path, {"a.txt": "".join(f"a{i} x\n" for i in range(2500)), "b.txt": "b0\n\nb2\n"})
    files = text_stream.whole_files(ds)
    assert files and all(path.endswith(".arrow") for path in files)
    assert lines_of(text_stream.text_batches(ds, "text", rows=300)) == ds["text"]
    both = datasets.concatenate_datasets([ds, ds.select(range(3))])  # a slice of a file is not the file
    assert text_stream.whole_files(both) is None
    assert lines_of(text_stream.text_batches(both, "text", rows=300)) == both["text"]
    twice = datasets.concatenate_datasets([ds, ds])
    assert text_stream.whole_files(twice) == 2 * text_stream.whole_files(ds)
    assert lines_of(text_stream.text_batches(twice, "text")) == twice["text"]
    renamed = ds.rename_column("text", "line")
    assert text_stream.whole_files(renamed) is None
    assert lines_of(text_stream.text_batches(renamed, "line")) == ds["text"]


def resident_mb(suffix: str | None = None) -> float:
    """This process's resident memory, or only the pages of its memory maps of files ending with `suffix`."""
    if suffix is None:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20
    kb, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:  # a mapping's first line: address range ... [path]
                inside = len(fields) >= 6 and fields[-1].endswith(suffix)
            elif inside and fields[0] == "Rss:":
                kb += int(fields[1])
    return kb / 1024


def test_reading_the_text_leaves_resident_memory_flat(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(5000)])
    line = " ".join(words[rng.integers(0, 5000, 20)])
    ds = text_split(tmp_path, {"big.txt": (line + "\n") * 400_000})  # about 45 MB of Arrow
    size_mb = sum(f.stat().st_size for f in (tmp_path / "hf").rglob("*.arrow")) / 2**20
    assert size_mb > 35
    # `datasets` itself touches part of the map when it loads the split; what counts is what reading adds.
    mapped, total = resident_mb(".arrow"), resident_mb()
    spaces = sum(pc.sum(pc.count_substring(b, " ")).as_py() for b in text_stream.text_batches(ds, "text"))
    assert spaces == 19 * 400_000
    # The whole process's growth has a looser bound: in the full suite, threads earlier tests left (W&B, Lightning)
    # allocate during the scan (8.8 MB of a 45 MB file once, under load); the map's own pages stay the measure.
    assert resident_mb(".arrow") - mapped < 1 and resident_mb() - total < 0.3 * size_mb
    # The oracle: the same scan through the memory map makes the whole file resident.
    assert pc.sum(pc.count_substring(ds.data.column("text"), " ")).as_py() == spaces
    assert resident_mb(".arrow") > 0.9 * size_mb


@pytest.mark.parametrize("kind", ["word", "char"])
@pytest.mark.parametrize("reverse", [False, True])
def test_several_processes_write_the_same_ids_as_one(tmp_path, kind, reverse, monkeypatch):
    monkeypatch.setattr(text_stream, "ROWS", 50)  # many batches, more than the pool holds in flight
    text = "".join(
        f"the cat {i % 7} sat on mat {i % 13}\n" + ("\n" if i % 9 == 0 else "") for i in range(1000)
    )
    ds = text_split(tmp_path, {"t.txt": text})
    tok = train_tokenizer(text_stream.text_batches(ds, "text"), kind)
    eos = tok.token_to_id(EOS)
    outs = []
    for n in (1, 3):
        out = tmp_path / f"ids-{n}.npy"
        token_cache.encode_split(ds, tok, "text", out, eos, True, n, "train", reverse)
        outs.append(token_cache.load_ids(out))
    lines = [t for t in text.split("\n")[:-1] if t]
    expected = [
        i
        for t in lines
        for i in [
            *(lambda ids: ids[::-1] if reverse else ids)(tok.encode(t, add_special_tokens=False).ids),
            eos,
        ]
    ]
    assert outs[0].tolist() == expected
    assert np.array_equal(outs[0], outs[1]) and outs[0].dtype == outs[1].dtype
