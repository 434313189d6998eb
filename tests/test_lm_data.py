"""Language-modelling data: sources, tokenizers, the token cache, exact evaluation coverage, clear errors."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest

from data_modules.lm import token_cache
from data_modules.lm import tokenizer as toks
from data_modules.lm.config import LMDataConfig
from data_modules.lm.datamodule import LMDataModule
from data_modules.split_files import SPLITS

FILE_NAMES = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: validation
    path: data/validation-*
  - split: test
    path: data/test-*
---
# Tiny corpus

Random words, written by the tests.
"""


def make_lines(n: int, seed: int) -> list[str]:
    """`n` lines of 0-8 random words (so some lines are blank), with punctuation and mixed case for BPE/char."""
    rng = random.Random(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "Dog", "ran", "far", "away", ",", ".", "éclair", "42"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in range(n)]


SPLIT_LINES = {"train": make_lines(300, 0), "validation": make_lines(60, 1), "test": make_lines(70, 2)}


def word_count(lines: list[str]) -> int:
    """Tokens of `lines` under the word tokenizer with blank lines kept: the words plus one `<eos>` a line."""
    return sum(len(line.split()) + 1 for line in lines)


def write_text_folder(folder: Path, splits: dict[str, list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, lines in splits.items():
        (folder / FILE_NAMES[split]).write_text("".join(line + "\n" for line in lines))
    return folder


def write_hf_folder(folder: Path, splits: dict[str, list[str]], column: str = "text") -> Path:
    """A dataset repository as on the Hub: parquet shards under data/ and a README.md card naming them."""
    (folder / "data").mkdir(parents=True)
    for split, lines in splits.items():
        datasets.Dataset.from_dict({column: lines}).to_parquet(
            folder / "data" / f"{split}-00000-of-00001.parquet"
        )
    (folder / "README.md").write_text(CARD)
    return folder


def write_disk_folder(folder: Path, splits: dict[str, list[str]]) -> Path:
    datasets.DatasetDict(
        {s: datasets.Dataset.from_dict({"text": lines}) for s, lines in splits.items()}
    ).save_to_disk(str(folder))
    return folder


def data_module(cache: Path, **kw) -> LMDataModule:
    return LMDataModule(LMDataConfig(cache_dir=str(cache), **kw))


def prepared(cache: Path, **kw) -> LMDataModule:
    dm = data_module(cache, **kw)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def cache_files(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir() if p.suffix in (".npy", ".json")}


# ---------------------------------------------------------------------------------------------- cache
def test_second_run_does_no_tokenization(tmp_path, lm_corpus, monkeypatch):
    first = prepared(tmp_path / "cache", path=str(lm_corpus))
    files = cache_files(tmp_path / "cache")
    assert len(files) == 4  # the tokenizer and one id file per split

    def forbidden(*args, **kwargs):
        raise AssertionError("the warm cache was not used")

    monkeypatch.setattr(token_cache, "encode_split", forbidden)
    monkeypatch.setattr(toks, "train_tokenizer", forbidden)
    monkeypatch.setattr(datasets, "load_dataset", forbidden)  # not even the text files are parsed
    second = prepared(tmp_path / "cache", path=str(lm_corpus))
    assert cache_files(tmp_path / "cache") == files
    assert second.tokenizer.to_str() == first.tokenizer.to_str()
    for split in SPLITS:
        np.testing.assert_array_equal(second.ids[split], first.ids[split])


@pytest.mark.parametrize("change", ["file content", "min_frequency", "tokenizer kind", "skip_empty_lines"])
def test_changed_inputs_invalidate_the_cache(tmp_path, lm_corpus, change):
    corpus = Path(shutil.copytree(lm_corpus, tmp_path / "corpus"))
    cache = tmp_path / "cache"
    first = prepared(cache, path=str(corpus))
    before = cache_files(cache)
    kw = {}
    if change == "file content":
        text = (corpus / "test.txt").read_text()
        assert " w1 " in text
        # Same size, one word swapped: only the content tells the two files apart.
        (corpus / "test.txt").write_text(text.replace(" w1 ", " w2 ", 1))
    elif change == "min_frequency":
        kw["min_frequency"] = 2
    elif change == "tokenizer kind":
        kw["tokenizer"] = "char"
    else:
        kw["skip_empty_lines"] = False
    second = prepared(cache, path=str(corpus), **kw)
    new = cache_files(cache) - before
    # A changed file re-tokenizes every split under a new key (the source fingerprint covers all files).
    assert len([n for n in new if n.endswith(".npy")]) == 3
    if change == "file content":
        assert not np.array_equal(second.ids["test"], first.ids["test"])
        assert len(second.ids["test"]) == len(first.ids["test"])


# ---------------------------------------------------------------------------------------------- sources
def source_kwargs(kind: str, tmp_path: Path) -> dict:
    if kind == "text folder":
        return {"path": str(write_text_folder(tmp_path / "txt", SPLIT_LINES))}
    if kind == "text globs":
        folder = write_text_folder(tmp_path / "globs", SPLIT_LINES)
        return {
            "train_files": [str(folder / "tr*.txt")],
            "validation_files": [str(folder / "valid.txt")],
            "test_files": [str(folder / "te?t.txt")],
        }
    if kind == "hf folder":
        return {"path": str(write_hf_folder(tmp_path / "hf", SPLIT_LINES))}
    if kind in DATA_FILES:  # data files named one by one: read by their `datasets` builder, never as text
        ext, files = kind.split()[0], {}
        for split, lines in SPLIT_LINES.items():
            files[f"{split}_files"] = str(tmp_path / f"{split}.{ext}")
            WRITE[ext](
                datasets.Dataset.from_dict({"id": range(len(lines)), "text": lines}), files[f"{split}_files"]
            )
        return files
    return {"path": str(write_disk_folder(tmp_path / "disk", SPLIT_LINES))}


WRITE = {
    "jsonl": lambda data, path: data.to_json(path),
    "json.gz": lambda data, path: data.to_json(path, compression="gzip"),
    "csv": lambda data, path: data.to_csv(path, index=False),
}
DATA_FILES = tuple(f"{ext} files" for ext in WRITE)


def test_every_source_kind_gives_the_same_tokens(tmp_path):
    """Every kind reads the same lines (JSON Lines named by --data.train_files were read as text: `{"text":`)."""
    results = {}
    for kind in ("text folder", "text globs", "hf folder", "save_to_disk", *DATA_FILES):
        dm = prepared(tmp_path / "cache", skip_empty_lines=False, **source_kwargs(kind, tmp_path))
        results[kind] = dm
        for split, lines in SPLIT_LINES.items():
            assert dm.num_tokens(split) == word_count(lines), (kind, split)
    reference = results["text folder"]
    for kind, dm in results.items():
        assert dm.tokenizer.get_vocab() == reference.tokenizer.get_vocab(), kind
        for split in SPLITS:
            np.testing.assert_array_equal(dm.ids[split], reference.ids[split], err_msg=kind)


def test_hf_folders_are_cached_by_content(tmp_path):
    """Two local folders with the same name, and a file edited in place, are never served each other's data."""
    other = {s: [line.upper() + " extra" for line in lines] for s, lines in SPLIT_LINES.items()}
    a = prepared(tmp_path / "cache", path=str(write_hf_folder(tmp_path / "a" / "corpus", SPLIT_LINES)))
    b_folder = write_hf_folder(tmp_path / "b" / "corpus", other)
    b = prepared(tmp_path / "cache", path=str(b_folder))
    assert a.num_tokens("test") == word_count([line for line in SPLIT_LINES["test"] if line])
    assert b.num_tokens("test") == word_count(other["test"])
    edited = {"text": ["only three words"] * 5}
    datasets.Dataset.from_dict(edited).to_parquet(b_folder / "data" / "test-00000-of-00001.parquet")
    assert prepared(tmp_path / "cache", path=str(b_folder)).num_tokens("test") == 20


def test_skip_empty_lines_drops_blank_lines(tmp_path):
    dm = prepared(tmp_path / "cache", path=str(write_text_folder(tmp_path / "txt", SPLIT_LINES)))
    for split, lines in SPLIT_LINES.items():
        assert dm.num_tokens(split) == word_count([line for line in lines if line])


@pytest.mark.parametrize("kind", ["word", "bpe", "char"])
def test_tokenizers_round_trip(tmp_path, kind):
    folder = write_text_folder(tmp_path / "txt", SPLIT_LINES)
    dm = prepared(tmp_path / "cache", path=str(folder), tokenizer=kind, skip_empty_lines=False)
    tok = dm.tokenizer
    assert tok.token_to_id(toks.UNK) == 0 and tok.token_to_id(toks.EOS) == 1
    assert vars(dm.model_inputs()) == {"vocab_size": tok.get_vocab_size()}
    eos = tok.token_to_id(toks.EOS)
    ids = dm.ids["test"]
    assert ids[-1] == eos and int((ids == eos).sum()) == len(SPLIT_LINES["test"])
    # The stream decodes back to the test lines (word-level normalises whitespace, which is all it splits on).
    ends = np.flatnonzero(ids == eos)
    pieces = np.split(np.asarray(ids), ends + 1)[:-1]
    decoded = [tok.decode([int(i) for i in piece[:-1]]) for piece in pieces]
    assert decoded == SPLIT_LINES["test"]
    if kind == "char":
        assert dm.num_tokens("test") == sum(len(line) + 1 for line in SPLIT_LINES["test"])
    if kind == "word":
        assert dm.num_tokens("test") == word_count(SPLIT_LINES["test"])


def test_given_tokenizer_file_is_used_not_trained(tmp_path, monkeypatch):
    folder = write_text_folder(tmp_path / "txt", SPLIT_LINES)
    trained = prepared(tmp_path / "cache", path=str(folder), tokenizer="char")
    tok_file = tmp_path / "tokenizer.json"
    tok_file.write_text(trained.tokenizer.to_str())

    def forbidden(*args, **kwargs):
        raise AssertionError("a tokenizer was trained although tokenizer_file was given")

    monkeypatch.setattr(toks, "train_tokenizer", forbidden)
    given = prepared(tmp_path / "cache2", path=str(folder), tokenizer_file=str(tok_file))
    assert given.tokenizer.get_vocab() == trained.tokenizer.get_vocab()
    np.testing.assert_array_equal(given.ids["test"], trained.ids["test"])


def test_artifacts_rebuild_the_same_tokenizer(tmp_path, lm_corpus):
    dm = prepared(tmp_path / "cache", path=str(lm_corpus))
    again = data_module(tmp_path / "other-cache", path=str(lm_corpus), min_frequency=1000)
    again.load_artifacts(dm.artifacts())  # a checkpoint's tokenizer wins over the (different) settings
    again.prepare_data()
    again.setup("test")
    assert again.tokenizer.get_vocab() == dm.tokenizer.get_vocab()
    np.testing.assert_array_equal(again.ids["test"], dm.ids["test"])


# ---------------------------------------------------------------------------------------------- batching
