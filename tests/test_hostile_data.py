"""Classes 6, 8, 9 and 11 of issue 12: tag schemes from evidence, degenerate data is an error, caches that
heal, and signals and full disks that leave nothing half-written."""

from __future__ import annotations

import errno
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from data_modules.entries import Locked, hold
from data_modules.errors import DataError
from data_modules.files import HOST
from data_modules.lm.config import LMDataConfig
from data_modules.lm.datamodule import LMDataModule
from data_modules.tag_schemes import allowed_transitions
from data_modules.tagging.cache import decide_scheme
from data_modules.tagging.config import TaggingDataConfig
from data_modules.tagging.datamodule import TaggingDataModule
from data_modules.tagging.scheme_detection import detect_scheme
from data_modules.tagging.vocab import TaggingVocab
from pipeline.checkpoints import AtomicCheckpointIO
from pipeline.runs import open_run
from tests.conftest import write_hmm_corpus


def iob2_sentences(n: int) -> list[list[str]]:
    base = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "I-ORG"], ["B-LOC", "B-LOC", "O"]]
    return [list(base[i % 3]) for i in range(n)]


# ---- 6. tag schemes from evidence ----------------------------------------------------------------------------
def test_a_stray_tag_does_not_change_the_scheme_and_is_named(caplog):
    tags = iob2_sentences(300) + [["S-PER", "O"]]
    assert detect_scheme(tags) == "iob2"
    with caplog.at_level(logging.WARNING):
        assert decide_scheme(tags, "auto") == "iob2"
    assert "S-PER x1" in caplog.text
    many = iob2_sentences(30) + [["S-PER", "I-LOC"]] * 10
    with pytest.raises(DataError, match="contradict"):
        decide_scheme(many, "auto")
    with pytest.raises(DataError, match="contradict iob1"):
        decide_scheme(iob2_sentences(30), "iob1")


@pytest.mark.parametrize("train_scheme", ["same", "bioes"])
def test_crf_constraints_allow_every_gold_training_transition(train_scheme):
    tags = iob2_sentences(40) + [["O", "I-PER", "O"], ["I-LOC"], ["S-PER", "O"], ["B-PER", "E-PER"]]
    sentences = [[f"w{i}" for i in range(len(t))] for t in tags]
    scheme = detect_scheme(tags)
    vocab = TaggingVocab.build(sentences, tags, scheme, train_scheme)
    allowed = set(allowed_transitions(vocab.train_tags, vocab.train_scheme))
    n = len(vocab.train_tags)
    encoded = vocab.encode(sentences, tags, 10, "train", list(range(len(tags))))
    for ids in encoded["tags"]:
        path = [n, *ids, n + 1]  # START ... END
        for a, b in zip(path, path[1:]):
            assert (a, b) in allowed, (
                vocab.train_tags[a] if a < n else "START",
                vocab.train_tags[b] if b < n else "END",
            )


# ---- 8. degenerate data is an error ----------------------------------------------------------------------------
def lm(tmp_path: Path, corpus: Path, **kw) -> LMDataModule:
    cfg = LMDataConfig(
        **{"path": str(corpus), "cache_dir": str(tmp_path / "cache"), "batch_size": 4, "bptt": 20, **kw}
    )
    dm = LMDataModule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    return dm


@pytest.fixture
def corpus(tmp_path) -> Path:
    write_hmm_corpus(tmp_path / "corpus")
    return tmp_path / "corpus"


@pytest.mark.parametrize(
    ("kw", "words"),
    [({"min_frequency": 1_000_000}, "only the special tokens"), ({"batch_size": 400}, "fewer than one batch"),
     ({"vocab_size": 3}, "unknown (<unk>)")],
)  # fmt: skip
def test_degenerate_lm_data_is_an_error(kw, words, tmp_path, corpus):
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
        lm(tmp_path, corpus, **kw)


def test_a_training_file_of_blank_lines_is_an_error(tmp_path, corpus):
    (corpus / "train.txt").write_text("\n \n\n" * 500)
    for skip in (True, False):
        with pytest.raises(DataError, match="empty|only the special tokens"):
            lm(tmp_path, corpus, skip_empty_lines=skip)


def test_degenerate_tagging_data_is_an_error(tmp_path):
    folder = tmp_path / "tags"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        lines = [
            f"{w} {t}"
            for i, s in enumerate(iob2_sentences(12))
            for w, t in zip([f"u{split}{i}x{j}" for j in range(9)], s)
        ]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    cfg = TaggingDataConfig(path=str(folder), cache_dir=str(tmp_path / "cache"), min_frequency=2)
    with pytest.raises(DataError, match="only special tokens|unknown"):
        TaggingDataModule(cfg).prepare_data()


# ---- 9. caches that heal ------------------------------------------------------------------------------------------
def test_damaged_lm_cache_entries_are_reported_and_rebuilt(tmp_path, corpus, caplog):
    first = lm(tmp_path, corpus)
    expected = np.asarray(first.ids["train"]).copy()
    cache = tmp_path / "cache"
    for pattern in ("ids-*.npy", "tokenizer-*.json"):
        for p in cache.glob(pattern):
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with caplog.at_level(logging.WARNING):
        again = lm(tmp_path, corpus)
    assert "is damaged" in caplog.text and "rebuilding" in caplog.text
    assert np.array_equal(np.asarray(again.ids["train"]), expected)
    # A whole cache is read without taking or creating any lock (a read-only cache works).
    before = sorted(p.name for p in cache.rglob("*"))
    (cache / "locks").rename(tmp_path / "moved-locks")
    lm(tmp_path, corpus)
    assert not (cache / "locks").exists() and len(sorted(cache.rglob("*"))) == len(before) - 1 - len(
        list((tmp_path / "moved-locks").iterdir())
    )


def test_damaged_tagger_shard_is_rebuilt(tmp_path, caplog):
    folder = tmp_path / "tags"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        lines = [f"w{j % 5} {t}" for s in iob2_sentences(12) for j, t in enumerate(s)]
        (folder / f"{split}.txt").write_text("\n".join(lines).replace("B-LOC\nw", "B-LOC\n\nw") + "\n")
    cfg = TaggingDataConfig(path=str(folder), cache_dir=str(tmp_path / "cache"))
    TaggingDataModule(cfg).setup("fit")
    shard = next((tmp_path / "cache").rglob("*.arrow"))
    shard.write_bytes(shard.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        dm = TaggingDataModule(cfg)
        dm.setup("fit")
    assert "is damaged" in caplog.text and len(dm._split("train").lengths) > 0


def test_a_waiting_process_says_what_it_waits_for_and_who_holds_it(tmp_path, caplog):
    lock = tmp_path / "entry.lock"
    released = threading.Event()

    def holder():
        with hold(lock, "holder"):
            released.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    time.sleep(0.3)
    with pytest.raises(Locked, match="pid"), hold(lock, "the entry", wait=False):
        pass
    with caplog.at_level(logging.WARNING):
        threading.Timer(1.5, released.set).start()
        with hold(lock, "the cache entry X", every=1.0):
            pass
    t.join()
    assert "Waiting for the cache entry X: held by" in caplog.text and "pid" in caplog.text


# ---- 11. signals and disk ------------------------------------------------------------------------------------------
def test_full_disk_while_writing_the_cache_is_one_line_and_leaves_no_temporary(tmp_path, corpus, monkeypatch):
    import data_modules.lm.token_cache as token_cache

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(token_cache, "_npy_header", full)  # the first write into the temporary cache file
    with pytest.raises(DataError, match="the disk is full"):
        lm(tmp_path, corpus)
    assert not [p for p in (tmp_path / "cache").iterdir() if ".tmp" in p.name]


def test_full_disk_while_spilling_the_word_pass_is_one_line_and_leaves_no_spill(
    tmp_path, corpus, monkeypatch
):
    import data_modules.lm.word_pass as word_pass

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(word_pass, "_spill_batch", full)
    with pytest.raises(DataError, match="the disk is full"):
        lm(tmp_path, corpus)
    assert not [p for p in (tmp_path / "cache").iterdir() if ".tmp" in p.name or "spill" in p.name]


def test_second_ctrl_c_during_a_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"pipeline": {}, "state_dict": {"w": torch.zeros(3)}}, path)
    before = path.read_bytes()

    def interrupted(obj, f, *a, **k):
        f.write(b"x" * 1000)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"pipeline": {}, "state_dict": {"w": torch.ones(3)}}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_temporaries_of_killed_processes_are_removed_on_the_next_start(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    ckpts = tmp_path / "runs" / "r" / "checkpoints"
    ckpts.mkdir(parents=True)
    stale = ckpts / f".last.ckpt.{HOST}-{pid}.tmp"
    stale.write_bytes(b"x" * 100)
    live = ckpts / f".last.ckpt.{HOST}-{__import__('os').getpid()}.tmp"  # a writer that is still alive
    live.write_bytes(b"y")
    import contextlib

    with contextlib.ExitStack() as stack:
        open_run(str(tmp_path / "runs"), "r", False, "lm", stack)
    assert not stale.exists() and live.exists()
