"""Tagging data module: CoNLL/HF/save_to_disk sources, clear errors, cache, sharding, batching, artifacts."""

from __future__ import annotations

import random
from pathlib import Path

import datasets
import pytest

from data_modules.errors import DataError
from data_modules.tagging.config import TaggingDataConfig
from data_modules.tagging.conll import read_prediction_file
from data_modules.tagging.datamodule import TaggingDataModule
from data_modules.tagging.vocab import TaggingVocab

TYPES = ("PER", "LOC", "ORG")
# Starts every training split, so that every tag of the other splits occurs in train.
COVER = (
    ["Per0", "Per1", "Loc0", "Loc1", "Org0", "Org1"],
    ["B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"],
)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def make_sentences(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Random IOB2 sentences of 1-12 tokens; words carry their tag's type so they are learnable."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words, tags = [], []
        while len(words) < rng.randint(1, 12):
            if rng.random() < 0.3:
                t = rng.choice(TYPES)
                for k in range(rng.randint(1, 3)):
                    words.append(f"{t.title()}{rng.randint(0, 5)}")
                    tags.append(("B-" if k == 0 else "I-") + t)
            else:
                words.append(rng.choice(["the", "a", "saw", "Went", "TO", "in", "42", "x-y"]))
                tags.append("O")
        out.append((words, tags))
    return out


def write_conll(path: Path, sents, docstart: bool = True, comments: bool = True) -> None:
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for i, (words, tags) in enumerate(sents):
        if comments:
            lines.append(f"# sent_id = {i}")
        lines += [f"{w} NN I-NP {t}" for w, t in zip(words, tags)] + [""]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path)


def write_corpus(tmp_path: Path):
    """CoNLL folder: train 60, valid 21, test 17 sentences (odd sizes on purpose)."""
    folder = tmp_path / "conll"
    folder.mkdir()
    data = {
        "train": [COVER] + make_sentences(59, 0),
        "valid": make_sentences(21, 1),
        "test": make_sentences(17, 2),
    }
    for split, sents in data.items():
        write_conll(folder / f"{split}.txt", sents)
    return folder, data


def module(tmp_path, **kw) -> TaggingDataModule:
    kw.setdefault("cache_dir", str(tmp_path / "cache"))
    # The fixture's files carry `# sent_id` lines ('#' is a token by default).
    kw.setdefault("drop_comments", True)
    dm = TaggingDataModule(TaggingDataConfig(**kw))
    dm.prepare_data()
    dm.setup("fit")
    return dm


def decoded(dm, split: str) -> dict[int, tuple[list[str], list[str]]]:
    """index -> (word ids, gold tags) over all batches of a split."""
    loader = dm.val_dataloader() if split == "validation" else dm.train_dataloader()
    out = {}
    for b in loader:
        for row in range(b["words"].shape[0]):
            n = int(b["mask"][row].sum())
            gold = [dm.gold_tags[i] for i in b["gold"][row, :n].tolist()]
            out[int(b["index"][row])] = (b["words"][row, :n].tolist(), gold)
    return out


def test_conll_folder(tmp_path, corpus):
    folder, data = corpus
    dm = module(tmp_path, path=str(folder), batch_size=8)
    assert (
        dm.vocab.corpus_scheme == "iob2"
        and dm.vocab.train_tags == dm.vocab.corpus_tags
        and dm.vocab.corpus_tags[0] == "O"
    )
    got = decoded(dm, "validation")
    assert sorted(got) == list(range(21))  # -DOCSTART- and comment lines are no sentences
    assert all(got[i][1] == data["valid"][i][1] for i in got)
    b = next(iter(dm.train_dataloader()))
    B, L = b["words"].shape
    assert b["chars"].shape[:2] == (B, L) and b["case"].shape == b["tags"].shape == (B, L)
    assert b["chars"].shape[2] == max(len(w) for i in b["index"].tolist() for w in data["train"][i][0])
    kw = vars(dm.model_inputs())
    assert kw["word_vocab_size"] > 2 and kw["char_vocab_size"] > 2 and kw["word_vectors"] is None


def test_hf_parquet_folder(tmp_path):
    folder = tmp_path / "hf"
    folder.mkdir()
    for split, n in (("train", 30), ("validation", 9), ("test", 7)):
        sents = ([COVER] if split == "train" else []) + make_sentences(n, n)
        ds = datasets.Dataset.from_dict({"tokens": [s[0] for s in sents], "ner_tags": [s[1] for s in sents]})
        ds.to_parquet(str(folder / f"{split}.parquet"))
    dm = module(tmp_path, path=str(folder))
    assert sorted(decoded(dm, "validation")) == list(range(9)) and "B-PER" in dm.vocab.corpus_tags


def test_save_to_disk_classlabel_and_bioes(tmp_path):
    names = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    feats = datasets.Features(
        {
            "tokens": datasets.List(datasets.Value("string")),
            "ner_tags": datasets.List(datasets.ClassLabel(names=names)),
        }
    )

    def split(n, seed):
        sents = [COVER] + make_sentences(n, seed)
        return datasets.Dataset.from_dict(
            {"tokens": [s[0] for s in sents], "ner_tags": [[names.index(t) for t in s[1]] for s in sents]},
            features=feats,
        )

    datasets.DatasetDict(
        {"train": split(30, 3), "validation": split(11, 4), "test": split(5, 5)}
    ).save_to_disk(str(tmp_path / "disk"))
    dm = module(tmp_path, path=str(tmp_path / "disk"), train_scheme="bioes")
    assert dm.vocab.corpus_scheme == "iob2" and dm.vocab.train_scheme == "bioes"
    assert (
        set(dm.vocab.corpus_tags) <= set(names)
        and "S-PER" in dm.vocab.train_tags
        and dm.vocab.train_tags[0] == "O"
    )
    b = next(iter(dm.val_dataloader()))
    train_tags = {dm.vocab.train_tags[i] for i in b["tags"][b["mask"]].tolist()}
    assert train_tags & {"S-PER", "S-LOC", "S-ORG", "E-PER", "E-LOC", "E-ORG"}


def test_malformed_line_names_file_and_line(tmp_path, corpus):
    folder, _ = corpus
    (folder / "train.txt").write_text("-DOCSTART- -X- -X- O\n\nEU NNP I-NP B-ORG\nrejects VBZ\n")
    with pytest.raises(DataError, match=r"train\.txt:4: expected 4 columns, found 2"):
        module(tmp_path, path=str(folder))


def test_empty_split(tmp_path, corpus):
    folder, _ = corpus
    (folder / "test.txt").write_text("-DOCSTART- -X- -X- O\n\n")
    with pytest.raises(DataError, match="test split is empty"):
        module(tmp_path, path=str(folder))


def test_invalid_utf8(tmp_path, corpus):
    folder, _ = corpus
    (folder / "valid.txt").write_bytes(b"EU NNP I-NP B-ORG\nbad\xff NN I-NP O\n")
    with pytest.raises(DataError, match=r"valid\.txt: invalid UTF-8 at byte offset 21"):
        module(tmp_path, path=str(folder))


def test_cache_hit_and_invalidation(tmp_path, corpus, monkeypatch):
    folder, _ = corpus
    first = module(tmp_path, path=str(folder))

    def encode(*args, **kwargs):
        raise RuntimeError("re-encoded a cached corpus")

    monkeypatch.setattr(TaggingVocab, "encode", encode)
    again = module(tmp_path, path=str(folder), batch_size=3)  # batching is no part of the cache key
    assert again.artifacts() == first.artifacts()
    with pytest.raises(RuntimeError, match="re-encoded"):
        module(tmp_path, path=str(folder), lowercase=True)
    with pytest.raises(RuntimeError, match="re-encoded"):
        write_conll(folder / "test.txt", make_sentences(5, 9))
        module(tmp_path, path=str(folder))
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no temp dir left


def test_artifacts_round_trip_and_predict(tmp_path, corpus):
    folder, data = corpus
    dm = module(tmp_path, path=str(folder))
    other = TaggingDataModule(
        TaggingDataConfig(
            path=str(folder), cache_dir=str(tmp_path / "c2"), min_frequency=3, drop_comments=True
        )
    )
    other.load_artifacts(dm.artifacts())
    other.prepare_data()
    other.setup("validate")
    assert other.model_inputs() == dm.model_inputs() and other.artifacts() == dm.artifacts()
    assert decoded(other, "validation") == decoded(dm, "validation")
    # Prediction needs only the vocabulary: no corpus, sharded like evaluation.
    text = tmp_path / "in.txt"
    text.write_text("Per1 saw the x-y\n\nLoc2 went\nA b c d e\n")
    sents, gold, fmt = read_prediction_file(str(text))
    assert (
        fmt == "text"
        and gold is None
        and sents
        == [
            ["Per1", "saw", "the", "x-y"],
            ["Loc2", "went"],
            ["A", "b", "c", "d", "e"],
        ]
    )
    pred = TaggingDataModule(TaggingDataConfig(path=str(tmp_path / "nowhere"), eval_batch_size=1))
    pred.load_artifacts(dm.artifacts())
    pred.set_predict_sentences(sents)
    pred.prepare_data()
    pred.setup("predict")
    pred.set_shard(1, 2)
    batches = list(pred.predict_dataloader())
    assert [b["index"].tolist() for b in batches] == [[1]] and batches[0]["words"].shape == (1, 2)
