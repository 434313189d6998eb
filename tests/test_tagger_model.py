"""BiLSTM tagger: shapes per encoder/head, word vectors, and overfitting a tiny tagged corpus to F1 100."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from data_modules.tag_schemes import convert
from models.errors import ModelConfigError
from models.optim import OptimConfig
from models.tagger import BiLSTMTagger, TaggerConfig
from models.tagger_lit_module import TaggerLitModule

RAW = [
    ("john lives in new york", "B-PER O O B-LOC I-LOC"),
    ("mary visited paris", "B-PER O B-LOC"),
    ("acme corp hired john smith", "B-ORG I-ORG O B-PER I-PER"),
    ("london is big", "B-LOC O O"),
    ("mary smith works at acme", "B-PER I-PER O O B-ORG"),
    ("it rains", "O O"),
    ("paris", "B-LOC"),
    ("new york and london", "B-LOC I-LOC O B-LOC"),
]
SENTENCES = [(words.split(), tags.split()) for words, tags in RAW]
CORPUS_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def _vocab(items) -> dict[str, int]:
    return {x: i + 2 for i, x in enumerate(sorted(set(items)))}  # 0 pad, 1 <unk>


WORDS = _vocab(w for s, _ in SENTENCES for w in s)
# The ids the tagging vocabulary gives: <unk> = 1, six casing classes with padding (data_modules/tagging/vocab.py).
IDS = {"unk_id": 1, "num_case_classes": 6}
CHARS = _vocab(c for s, _ in SENTENCES for w in s for c in w)


def _batch(sentences, start_index: int, train_tags: list[str], train_scheme: str) -> dict[str, torch.Tensor]:
    b = len(sentences)
    length = max(len(s) for s, _ in sentences)
    width = max(len(w) for s, _ in sentences for w in s)
    batch = {k: torch.zeros(b, length, dtype=torch.long) for k in ("words", "case", "tags", "gold")}
    batch["chars"] = torch.zeros(b, length, width, dtype=torch.long)
    batch["mask"] = torch.zeros(b, length, dtype=torch.bool)
    batch["index"] = torch.arange(start_index, start_index + b)
    for i, (words, gold) in enumerate(sentences):
        tags = gold if train_scheme == "iob2" else convert(gold, "iob2", train_scheme)
        for j, w in enumerate(words):
            batch["words"][i, j] = WORDS[w]
            batch["chars"][i, j, : len(w)] = torch.tensor([CHARS[c] for c in w])
            batch["case"][i, j] = 1
            batch["tags"][i, j] = train_tags.index(tags[j])
            batch["gold"][i, j] = CORPUS_TAGS.index(gold[j])
            batch["mask"][i, j] = True
    return batch


def _batches(train_tags: list[str], train_scheme: str, batch_size: int = 3) -> list[dict[str, torch.Tensor]]:
    return [
        _batch(SENTENCES[i : i + batch_size], i, train_tags, train_scheme)
        for i in range(0, len(SENTENCES), batch_size)
    ]


def _small_config(**overrides) -> TaggerConfig:
    base = dict(
        word_embedding_size=16,
        char_embedding_size=8,
        char_hidden_size=8,
        hidden_size=16,
        dropout=0.0,
        word_dropout=0.0,
    )
    return TaggerConfig(**{**base, **overrides})


@pytest.mark.parametrize("head", ["crf", "softmax"])
@pytest.mark.parametrize("char_encoder", ["cnn", "lstm", "none"])
def test_shapes(char_encoder: str, head: str):
    torch.manual_seed(0)
    cfg = _small_config(
        char_encoder=char_encoder, head=head, use_case_features=True, word_dropout=0.5, num_layers=2
    )
    model = BiLSTMTagger(cfg, len(WORDS) + 2, len(CHARS) + 2, len(CORPUS_TAGS), **IDS)
    batch = _batches(CORPUS_TAGS, "iob2")[0]
    b, length = batch["words"].shape
    assert model.emissions(batch).shape == (b, length, len(CORPUS_TAGS))
    loss = model.loss(batch)
    assert loss.dim() == 0 and loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert model.word_embedding.weight.grad is not None
    model.eval()
    pred = model.decode(batch)
    assert pred.shape == (b, length) and pred.dtype == torch.long
    assert pred[~batch["mask"]].eq(0).all()


def test_char_encoders_ignore_char_padding():
    torch.manual_seed(0)
    for name in ("cnn", "lstm"):
        model = BiLSTMTagger(_small_config(char_encoder=name), 10, 10, 3, **IDS).eval()
        chars = torch.tensor([[[2, 3, 4, 0, 0], [0, 0, 0, 0, 0]]])
        wider = torch.cat([chars, torch.zeros(1, 2, 4, dtype=torch.long)], dim=2)
        out = model.char_encoder(chars)
        assert out.shape == (1, 2, model.char_encoder.output_size)
        assert torch.allclose(out, model.char_encoder(wider), atol=1e-6)
        assert out[0, 1].eq(0).all()


def test_char_bilstm_equals_each_word_run_alone_with_or_without_host_lengths():
    """Oracle: the BiLSTM run on each word's chars alone, unpadded; the host-counted lengths the module
    passes on a GPU (so no step reads lengths back from the device) give the same vectors."""
    from models.char_encoder import CharBiLSTM

    torch.manual_seed(0)
    encoder = CharBiLSTM(num_chars=12, embedding_size=5, hidden_size=4).eval()
    chars = torch.zeros(2, 3, 6, dtype=torch.long)
    words = {
        (0, 0): [3, 4, 5],
        (0, 1): [7],
        (1, 0): [2, 9, 11, 4, 6, 8],
        (1, 2): [5, 5],
    }  # (1, 1), (0, 2): empty
    for (i, j), ids in words.items():
        chars[i, j, : len(ids)] = torch.tensor(ids)
    out = encoder(chars)
    assert torch.equal(out, encoder(chars, (chars != 0).sum(2)))
    for i in range(2):
        for j in range(3):
            if (i, j) not in words:
                assert out[i, j].eq(0).all()
                continue
            _, (h_n, _) = encoder.lstm(encoder.embedding(torch.tensor([words[i, j]])))
            assert torch.allclose(out[i, j], torch.cat([h_n[0, 0], h_n[1, 0]]), atol=1e-6)


def test_word_vectors_init_and_shape_mismatch():
    vectors = torch.randn(12, 16)
    model = BiLSTMTagger(_small_config(), 12, 10, 3, word_vectors=vectors, **IDS)
    assert torch.equal(model.word_embedding.weight.data, vectors)
    with pytest.raises(ModelConfigError, match="word vectors"):
        BiLSTMTagger(_small_config(), 12, 10, 3, word_vectors=torch.randn(12, 15), **IDS)
    with pytest.raises(ModelConfigError, match="word vectors"):
        BiLSTMTagger(_small_config(), 13, 10, 3, word_vectors=vectors, **IDS)


@pytest.mark.parametrize(
    ("head", "char_encoder", "train_scheme"), [("crf", "cnn", "bioes"), ("softmax", "lstm", "iob2")]
)
def test_module_overfits_tiny_corpus(head: str, char_encoder: str, train_scheme: str):
    pl.seed_everything(0)
    if train_scheme == "iob2":
        train_tags = CORPUS_TAGS
    else:
        train_tags = sorted({t for _, g in SENTENCES for t in convert(g, "iob2", train_scheme)})
    module = TaggerLitModule(
        model=_small_config(head=head, char_encoder=char_encoder),
        optim=OptimConfig(name="adam", lr=0.02, lr_decay=1.0),
        word_vocab_size=len(WORDS) + 2,
        char_vocab_size=len(CHARS) + 2,
        train_tags=train_tags,
        corpus_tags=CORPUS_TAGS,
        train_scheme=train_scheme,
        corpus_scheme="iob2",
        **IDS,
    )
    batches = _batches(train_tags, train_scheme)
    loader = DataLoader(batches, batch_size=None)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=40,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        check_val_every_n_epoch=10,
    )
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
    assert module.last_result["val"]["f1"] == pytest.approx(100.0)
    assert trainer.callback_metrics["val/f1"].item() == pytest.approx(100.0)

    trainer.test(module, dataloaders=loader, verbose=False)
    test = module.last_result["test"]
    assert test["f1"] == pytest.approx(100.0) and test["accuracy"] == pytest.approx(100.0)
    assert test["per_type/LOC/support"] == 6.0
    assert "test/per_type/PER/f1" in trainer.callback_metrics

    predictions = [p for batch in trainer.predict(module, dataloaders=loader) for p in batch]
    assert sorted(i for i, _ in predictions) == list(range(len(SENTENCES)))
    assert all(tags == SENTENCES[i][1] for i, tags in predictions)


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_bf16_autocast_and_empty_row(head: str):
    torch.manual_seed(0)
    model = BiLSTMTagger(
        _small_config(head=head, char_encoder="lstm"), len(WORDS) + 2, len(CHARS) + 2, 7, **IDS
    )
    batch = _batches(CORPUS_TAGS, "iob2")[0]
    # A fully padded row (a rank with fewer sentences) must neither crash nor contribute.
    batch = {k: torch.cat([v, torch.zeros_like(v[:1])]) for k, v in batch.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model.loss(batch)
        pred = model.decode(batch)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert pred[-1].eq(0).all()


def test_batch_moved_to_a_device_carries_host_side_lengths():
    """On an accelerator every length packing needs is counted on the host before the copy (no step reads
    lengths back from the device); "meta" stands in for a GPU: tensors move, values don't."""
    module = TaggerLitModule(
        model=_small_config(char_encoder="lstm"),
        optim=OptimConfig(name="adam", lr=0.02, lr_decay=1.0),
        word_vocab_size=len(WORDS) + 2,
        char_vocab_size=len(CHARS) + 2,
        train_tags=CORPUS_TAGS,
        corpus_tags=CORPUS_TAGS,
        train_scheme="iob2",
        corpus_scheme="iob2",
        **IDS,
    )
    batch = _batches(CORPUS_TAGS, "iob2")[0]
    moved = module.transfer_batch_to_device(dict(batch), torch.device("meta"), 0)
    assert moved["words"].is_meta
    assert moved["lengths"].device.type == "cpu" and torch.equal(moved["lengths"], batch["mask"].sum(1))
    assert moved["char_lengths"].device.type == "cpu"
    assert torch.equal(moved["char_lengths"], (batch["chars"] != 0).sum(2))
    on_cpu = module.transfer_batch_to_device(dict(batch), torch.device("cpu"), 0)
    assert "char_lengths" not in on_cpu  # counted by the encoder itself, where reading them costs nothing
