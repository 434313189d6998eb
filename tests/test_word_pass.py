"""The word pass: one split of the training text gives both the counts and (through its spill) the training ids,
equal to what the tokenizer gives line by line, in one process or several; the cache records its <unk> count."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from data_modules.entries import manifest_meta
from data_modules.lm import text_stream, words
from data_modules.lm import tokenizer as toks
from data_modules.lm.word_pass import WordPass
from tests.test_words import random_lines


def one_line_each(lines: list[str]) -> list[str]:
    """The random lines without the characters that would end a line in a text file."""
    return [
        line.replace("\n", " ").replace("\r", " ").replace("\x85", " ").replace("\u2028", " ")
        for line in lines
    ]


@pytest.mark.parametrize("num_proc", [1, 2])
@pytest.mark.parametrize("skip_empty", [True, False])
@pytest.mark.parametrize("merge", ["at the end", "every few distinct words", "every few words held"])
def test_spilled_ids_equal_the_tokenizers(tmp_path, num_proc, skip_empty, merge, monkeypatch):
    import data_modules.lm.word_pass as word_pass

    if merge == "every few distinct words":
        monkeypatch.setattr(word_pass, "MERGE_WORDS", 20)
    elif merge == "every few words held":
        monkeypatch.setattr(word_pass, "HELD_WORDS", 100)
    rng = random.Random(num_proc * 10 + skip_empty)
    lines = random_lines(rng, 600)
    # Most batches without a special token inside a word (the lookup path), some with one (the tokenizer's path).
    lines = [
        line if i // 37 % 4 == 0 else line.replace("<eos>", "e").replace("<unk>", "u")
        for i, line in enumerate(lines)
    ]
    batches = [pa.array(lines[i : i + 37], pa.large_string()) for i in range(0, len(lines), 37)]
    passed = WordPass(toks.SPECIALS, tmp_path / "spill")
    tok = words.build_tokenizer(passed.count(iter(batches), num_proc), toks.SPECIALS, min_frequency=2)
    eos = tok.token_to_id(toks.EOS)
    assert 0 < len(passed.fallback) < len(batches)
    assert tok.token_to_id(toks.UNK) == 0 and tok.get_vocab_size() > 10
    got = list(passed.ids(tok, eos, skip_empty, iter(batches)))
    for batch, ids in zip(batches, got, strict=True):
        kept = [t for t in batch.to_pylist() if not skip_empty or tok.encode(t).ids]
        assert ids.to_pylist() == [tok.encode(t, add_special_tokens=False).ids + [eos] for t in kept]
    assert passed.ids(tok, eos, skip_empty, iter(batches)) is not None
    assert WordPass(toks.SPECIALS, None).ids(tok, eos, skip_empty, iter(batches)) is None  # nothing spilled


def test_counts_from_several_processes_equal_one(tmp_path):
    lines = random_lines(random.Random(3), 800)
    batches = [pa.array(lines[i : i + 50]) for i in range(0, 800, 50)]
    one, two = WordPass(toks.SPECIALS).count(iter(batches)), WordPass(toks.SPECIALS).count(iter(batches), 3)
    assert one.equals(two)


@pytest.mark.parametrize("reverse", [False, True])
def test_prepared_ids_equal_the_tokenizers_and_the_spill_is_gone(tmp_path, reverse, monkeypatch):
    """Through `prepare_data`: every split's cached ids (the training split's from the spill) are the tokenizer's,
    each line reversed with `reverse`; no spill is left; each manifest records the split's <unk> count."""
    from data_modules.lm.config import LMDataConfig
    from data_modules.lm.datamodule import LMDataModule

    monkeypatch.setattr(text_stream, "ROWS", 64)  # many batches
    rng = random.Random(11)
    texts = {}
    for split in ("train", "valid", "test"):
        texts[split] = one_line_each(random_lines(rng, 700))
        (tmp_path / f"{split}.txt").write_text("\n".join(texts[split]) + "\n")
    cache = tmp_path / "cache"
    cfg = LMDataConfig(path=str(tmp_path), cache_dir=str(cache), min_frequency=2, reverse=reverse, num_proc=2)
    dm = LMDataModule(cfg)
    dm.setup()
    assert not [p.name for p in cache.iterdir() if "spill" in p.name]
    tok, paths = dm.tokenizer, dm._paths(dm._source())[1]
    for split, key in (("train", "train"), ("valid", "validation"), ("test", "test")):
        encoded = [tok.encode(t, add_special_tokens=False).ids for t in texts[split]]
        expected = [i for ids in encoded if ids for i in [*(ids[::-1] if reverse else ids), 1]]
        assert np.asarray(dm.ids[key]).tolist() == expected, split
        assert manifest_meta(paths[key])["unk"] == expected.count(0) > 0


def test_unknown_count_in_slices_equals_one_comparison():
    ids = np.random.default_rng(0).integers(0, 50, (1 << 24) + 12345, dtype=np.uint16)
    assert toks.unknown_count(ids, 7, None) == int(np.count_nonzero(ids == 7))
    assert toks.unknown_count(ids, 7, 3) == 3  # the count the cache recorded is taken as it is


def test_coverage_check_takes_the_recorded_unknown_count():
    tok = toks.train_tokenizer(["a b c"], "word")
    ids = {"train": np.array([2, 3, 4, 1]), "validation": np.array([2, 1]), "test": np.array([2, 1])}
    toks.check_coverage(tok, ids, False, 1, None)
    with pytest.raises(toks.DataError, match="100% of the train split"):
        toks.check_coverage(tok, ids, False, 1, None, unknown={"train": 4})


def test_a_spill_left_by_a_killed_process_is_removed_on_the_next_start(tmp_path, monkeypatch):
    from data_modules import files

    monkeypatch.setattr(files.os, "getpid", lambda: 2**22 + 12345)  # a PID no process has here
    spill = files.temporary_name(tmp_path / "word-pass", ".tmp.spill")
    monkeypatch.undo()
    spill.write_bytes(b"left by a killed prepare")
    assert files.remove_stale_temporaries(tmp_path) == [spill] and not spill.exists()
