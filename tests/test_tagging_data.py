"""Tagging data module: CoNLL/HF/save_to_disk sources, clear errors, cache, sharding, batching, artifacts."""

from __future__ import annotations

import random
from pathlib import Path

import datasets
import pytest

from data_modules.buckets import EvalBatchSampler, TrainBatchSampler
from data_modules.conll import read_prediction_file
from data_modules.errors import DataError
from data_modules.tagging_data import TaggingDataConfig, TaggingDataModule
from data_modules.vocab import TaggingVocab

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
            gold = [dm.corpus_tags[i] for i in b["gold"][row, :n].tolist()]
            out[int(b["index"][row])] = (b["words"][row, :n].tolist(), gold)
    return out


def test_conll_folder(tmp_path, corpus):
    folder, data = corpus
    dm = module(tmp_path, path=str(folder), batch_size=8)
    assert dm.corpus_scheme == "iob2" and dm.train_tags == dm.corpus_tags and dm.corpus_tags[0] == "O"
    got = decoded(dm, "validation")
    assert sorted(got) == list(range(21))  # -DOCSTART- and comment lines are no sentences
    assert all(got[i][1] == data["valid"][i][1] for i in got)
    b = next(iter(dm.train_dataloader()))
    B, L = b["words"].shape
    assert b["chars"].shape[:2] == (B, L) and b["case"].shape == b["tags"].shape == (B, L)
    assert b["chars"].shape[2] == max(len(w) for i in b["index"].tolist() for w in data["train"][i][0])
    kw = dm.model_kwargs()
    assert kw["word_vocab_size"] > 2 and kw["char_vocab_size"] > 2 and kw["word_vectors"] is None


def test_hf_parquet_folder(tmp_path):
    folder = tmp_path / "hf"
    folder.mkdir()
    for split, n in (("train", 30), ("validation", 9), ("test", 7)):
        sents = ([COVER] if split == "train" else []) + make_sentences(n, n)
        ds = datasets.Dataset.from_dict({"tokens": [s[0] for s in sents], "ner_tags": [s[1] for s in sents]})
        ds.to_parquet(str(folder / f"{split}.parquet"))
    dm = module(tmp_path, path=str(folder))
    assert sorted(decoded(dm, "validation")) == list(range(9)) and "B-PER" in dm.corpus_tags


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

    datasets.DatasetDict({"train": split(30, 3), "validation": split(11, 4)}).save_to_disk(
        str(tmp_path / "disk")
    )
    dm = module(tmp_path, path=str(tmp_path / "disk"), train_scheme="bioes")
    assert dm.corpus_scheme == "iob2" and dm.train_scheme == "bioes"
    assert set(dm.corpus_tags) <= set(names) and "S-PER" in dm.train_tags and dm.train_tags[0] == "O"
    b = next(iter(dm.val_dataloader()))
    train_tags = {dm.train_tags[i] for i in b["tags"][b["mask"]].tolist()}
    assert train_tags & {"S-PER", "S-LOC", "S-ORG", "E-PER", "E-LOC", "E-ORG"}


def test_malformed_line_names_file_and_line(tmp_path, corpus):
    folder, _ = corpus
    (folder / "train.txt").write_text("-DOCSTART- -X- -X- O\n\nEU NNP I-NP B-ORG\nrejects VBZ\n")
    with pytest.raises(DataError, match=r"train\.txt:4: expected 4 columns, found 2"):
        module(tmp_path, path=str(folder))


def test_unseen_tag(tmp_path, corpus):
    folder, data = corpus
    sents = data["valid"][:12] + [(["odd"], ["B-FOO"])]
    write_conll(folder / "valid.txt", sents)
    with pytest.raises(
        DataError, match=r"tag 'B-FOO' in validation \(sentence 13\) never occurs in the training"
    ):
        module(tmp_path, path=str(folder))


def test_missing_tag_column(tmp_path):
    ds = datasets.Dataset.from_dict({"tokens": [["a", "b"]], "pos_tags": [["DT", "NN"]]})
    ds.to_parquet(str(tmp_path / "train.parquet"))
    with pytest.raises(DataError, match=r"no column 'ner_tags'.*\['tokens', 'pos_tags'\]"):
        module(tmp_path, train_files=[str(tmp_path / "train.parquet")])
    dm = module(tmp_path, train_files=[str(tmp_path / "train.parquet")], tags_column="pos_tags")
    assert dm.corpus_scheme == "none" and dm.corpus_tags == ["DT", "NN"]


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


@pytest.mark.parametrize("world", [2, 3])
def test_eval_shards_cover_every_sentence_once(tmp_path, corpus, world):
    folder, _ = corpus
    dm = module(tmp_path, path=str(folder), eval_batch_size=4)
    seen = []
    for rank in range(world):
        dm.set_shard(rank, world)
        seen += [i for b in dm.val_dataloader() for i in b["index"].tolist()]
    assert sorted(seen) == list(range(21))


def test_eval_sampler_exact_for_any_size():
    for n in range(12):
        for world in (1, 2, 3, 4):
            got = []
            for rank in range(world):
                s = EvalBatchSampler([(i * 7) % 5 + 1 for i in range(n)], batch_size=2, sort=True)
                s.set_shard(rank, world)
                assert len(list(s)) == len(s)
                got += [i for b in s for i in b]
            assert sorted(got) == list(range(n))


def test_train_shards_have_equal_batch_counts():
    lengths = [random.Random(i).randint(1, 30) for i in range(101)]
    for world in (2, 3, 4):
        counts, covered = set(), set()
        for rank in range(world):
            s = TrainBatchSampler(lengths, batch_size=8, seed=1)
            s.set_shard(rank, world)
            batches = list(s)
            counts.add(len(batches))
            assert len(batches) == len(s)
            covered.update(i for b in batches for i in b)
        assert len(counts) == 1 and covered == set(range(101))


def test_bucketing_reduces_padding():
    lengths = [random.Random(i).randint(1, 60) for i in range(2000)]

    def padding(bucket):
        s = TrainBatchSampler(lengths, batch_size=32, seed=0, bucket=bucket)
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in s)

    assert padding(True) < padding(False) / 5


def test_sampler_resumes_same_order():
    lengths = list(range(1, 90))
    s = TrainBatchSampler(lengths, batch_size=4, seed=7)
    s.set_epoch(3)
    full = list(s)
    s.set_epoch(3)
    it = iter(s)
    head = [next(it) for _ in range(5)]
    state = s.state_dict()
    resumed = TrainBatchSampler(lengths, batch_size=4, seed=7)
    resumed.load_state_dict(state)
    resumed.set_epoch(3)
    assert head + list(resumed) == full
    resumed.set_epoch(4)
    assert list(resumed) != full


def test_artifacts_round_trip_and_predict(tmp_path, corpus):
    folder, data = corpus
    dm = module(tmp_path, path=str(folder))
    other = TaggingDataModule(
        TaggingDataConfig(path=str(folder), cache_dir=str(tmp_path / "c2"), min_frequency=3)
    )
    other.load_artifacts(dm.artifacts())
    other.prepare_data()
    other.setup("validate")
    assert other.model_kwargs() == dm.model_kwargs() and other.artifacts() == dm.artifacts()
    assert decoded(other, "validation") == decoded(dm, "validation")
    # A checkpoint's vocabulary meets a tag it never saw.
    write_conll(folder / "test.txt", [(["x"], ["B-NEW"])])
    late = TaggingDataModule(TaggingDataConfig(path=str(folder), cache_dir=str(tmp_path / "c3")))
    late.load_artifacts(dm.artifacts())
    with pytest.raises(DataError, match="'B-NEW' in test .*not in the checkpoint's tag set"):
        late.prepare_data()
    # Prediction needs only the vocabulary: no corpus, sharded like evaluation.
    text = tmp_path / "in.txt"
    text.write_text("Per1 saw the x-y\n\nLoc2 went\nA b c d e\n")
    sents, gold = read_prediction_file(str(text))
    assert gold is None and sents == [
        ["Per1", "saw", "the", "x-y"],
        ["Loc2", "went"],
        ["A", "b", "c", "d", "e"],
    ]
    pred = TaggingDataModule(TaggingDataConfig(path=str(tmp_path / "nowhere"), eval_batch_size=1))
    pred.load_artifacts(dm.artifacts())
    pred.set_predict_sentences(sents)
    pred.prepare_data()
    pred.setup("predict")
    pred.set_shard(1, 2)
    batches = list(pred.predict_dataloader())
    assert [b["index"].tolist() for b in batches] == [[1]] and batches[0]["words"].shape == (1, 2)


def test_read_conll_prediction_file(tmp_path, corpus):
    folder, data = corpus
    sents, gold = read_prediction_file(str(folder / "test.txt"))
    assert sents == [s[0] for s in data["test"]] and gold == [s[1] for s in data["test"]]
    (tmp_path / "tok.conll").write_text("EU\nrejects\n\nPeter\n")
    assert read_prediction_file(str(tmp_path / "tok.conll")) == ([["EU", "rejects"], ["Peter"]], None)


def test_word_vectors_and_lowercase(tmp_path, corpus):
    folder, _ = corpus
    vec = tmp_path / "glove.txt"
    vec.write_text("the 1 2 3\nwent 4 5 6\nunrelated 7 8 9\n")
    dm = module(tmp_path, path=str(folder), word_vectors=str(vec), lowercase=True)
    w = dm.model_kwargs()["word_vectors"]
    vocab = dm.vocab.words.get_vocab()
    assert w.shape == (dm.word_vocab_size, 3) and w[0].abs().sum() == 0
    assert w[vocab["went"]].tolist() == [4, 5, 6] and "Went" not in vocab
    (tmp_path / "bad.txt").write_text("the 1 2 3\nwent 4 5\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: expected a word and 3 numbers"):
        module(tmp_path, path=str(folder), word_vectors=str(tmp_path / "bad.txt"))


def test_packed_batches_equal_padded_lists():
    """The vectorised gathers of PackedSentences give exactly the padding a per-sentence loop gives,
    from Arrow (the cached splits) and from lists (sentences to predict) alike."""
    import numpy as np

    from data_modules.buckets import PackedSentences
    from data_modules.tagging_cache import FEATURES

    rng = random.Random(3)
    sents = [
        [[rng.randint(1, 9) for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 8))]
        for _ in range(40)
    ]
    enc = {"chars": sents, "length": [len(s) for s in sents]}
    for k in PackedSentences.WORD_KEYS:
        enc[k] = [[rng.randint(0, 50) for _ in s] for s in sents]
    index = [10 + i for i in range(len(sents))]
    packs = [
        PackedSentences.from_lists(enc, index),
        PackedSentences.from_arrow(datasets.Dataset.from_dict(enc | {"index": index}, features=FEATURES)),
    ]
    for pack in packs:
        for _ in range(20):
            rows = rng.sample(range(len(sents)), rng.randint(1, 7))
            got = pack.__getitems__(rows)
            seq = max(len(sents[r]) for r in rows)
            width = max(len(w) for r in rows for w in sents[r])
            chars = np.zeros((len(rows), seq, width), dtype=np.int64)
            for b, r in enumerate(rows):
                for t, word in enumerate(sents[r]):
                    chars[b, t, : len(word)] = word
                for k in PackedSentences.WORD_KEYS:
                    assert got[k][b].tolist() == enc[k][r] + [0] * (seq - len(sents[r]))
                assert got["mask"][b].tolist() == [True] * len(sents[r]) + [False] * (seq - len(sents[r]))
            assert np.array_equal(got["chars"].numpy(), chars)
            assert got["index"].tolist() == [index[r] for r in rows]
