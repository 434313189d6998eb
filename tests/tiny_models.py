"""Tiny trained models for the tests of what leaves the pipeline (API, export, ONNX): a few seconds each."""

from __future__ import annotations

import random
from pathlib import Path

from pipeline.__main__ import main
from tests.conftest import CONF, write_hmm_corpus
from tests.test_tagger_cli import sentence, write_conll


def ner_corpus(folder: Path) -> Path:
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    write_conll(folder / "train.txt", [sentence(rng) for _ in range(120)])
    write_conll(folder / "valid.txt", [sentence(rng) for _ in range(20)])
    write_conll(folder / "test.txt", [sentence(rng) for _ in range(23)])
    return folder


def tagger_args(work: Path, corpus: Path, name: str, char_encoder: str = "cnn") -> list[str]:
    return [
        "--config", str(CONF / "tagger" / "conll2003.yaml"), "--data.path", str(corpus),
        "--data.cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", name,
        "--data.batch_size", "8", "--data.eval_batch_size", "16",
        "--model.word_embedding_size", "12", "--model.char_hidden_size", "6", "--model.hidden_size", "10",
        "--model.char_encoder", char_encoder, "--model.num_layers", "2",
        "--model.dropout", "0.1", "--optim.lr", "0.02", "--training.ema_decay", "0.0",
        "--trainer.max_epochs", "2", "--trainer.max_time", "null", "--trainer.accelerator", "cpu",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--wandb.mode", "disabled",
    ]  # fmt: skip


def train_tagger(work: Path, char_encoder: str = "cnn") -> Path:
    """A 2-layer BiLSTM-CRF (char CNN or BiLSTM, case features) on the NER templates; its run directory."""
    corpus = ner_corpus(work / "ner")
    name = f"ner-{char_encoder}"
    assert main(["train", *tagger_args(work, corpus, name, char_encoder)]) == 0
    return work / "runs" / name


def lm_args(work: Path, corpus: Path, name: str) -> list[str]:
    return [
        "--config", str(CONF / "lm" / "demo.yaml"), "--data.path", str(corpus),
        "--data.cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", name,
        "--data.batch_size", "4", "--data.eval_batch_size", "3", "--data.bptt", "20",
        "--model.embedding_size", "16", "--model.hidden_size", "16", "--model.num_layers", "2",
        "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false", "--trainer.accelerator", "cpu", "--wandb.mode", "disabled",
    ]  # fmt: skip


ADAPTIVE = ["--model.softmax", "adaptive", "--model.cutoffs", "[8, 20]", "--model.tie_weights", "false"]
"""A vocabulary of about 40 words in three clusters of the adaptive softmax."""


def train_lm(work: Path, *extra: str) -> Path:
    """A 2-layer word LM on HMM text (blank lines kept, as the demo recipe models them); its run directory."""
    corpus = work / "lm-corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    write_hmm_corpus(corpus)
    assert main(["train", *lm_args(work, corpus, "lm"), *extra]) == 0
    return work / "runs" / "lm"
