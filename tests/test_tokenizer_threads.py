"""Tokenizer training runs `tokenizers`' threads, gives the tokenizer one thread gives, and turns them off after."""

from __future__ import annotations

import os

import pytest

from data_modules.lm.tokenizer import train_tokenizer

LINES = [f"the cat number {i} sat on the mat and the dog ate {i % 7} bones" for i in range(400)]


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_training_runs_with_threads_then_turns_them_off(monkeypatch, kind):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    seen = []

    def texts():  # consumed by tokenizers while it trains
        seen.append(os.environ["TOKENIZERS_PARALLELISM"])
        yield from LINES

    tok = train_tokenizer(texts(), kind, vocab_size=300)
    assert seen == ["true"]
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert tok.get_vocab_size() > 2


def test_threads_give_the_tokenizer_trained_without_them(monkeypatch):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from data_modules.lm.tokenizer import SPECIALS, UNK

    ours = train_tokenizer(LINES, "bpe", min_frequency=2, vocab_size=300)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")  # the same training, one thread
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(iter(LINES), trainer)
    assert ours.get_vocab() == tok.get_vocab()
