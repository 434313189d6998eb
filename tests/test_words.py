"""The Arrow word-level path gives what Hugging Face `tokenizers` gives: vocabulary order and ids."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from data_modules.lm import words
from data_modules.lm.tokenizer import EOS, SPECIALS, UNK, train_tokenizer

# Every Unicode whitespace character, the four Arrow-only separators, a zero-width space (not whitespace).
SPACES = [
    " ",
    "\t",
    "\n",
    "\r",
    "\v",
    "\f",
    "\x85",
    "\xa0",
    "\u1680",
    "\u2003",
    "\u2028",
    "\u3000",
    "\x1c",
    "\x1f",
    "\u200b",
]
WORDS = ["the", "cat", "Zoë", "naïve", "日本", "x", "<unk>", "<eos>", "a<eos>b", "<unk>z", "--", "ß"]


def random_lines(rng: random.Random, n: int) -> list[str]:
    lines = []
    for _ in range(n):
        parts = [rng.choice(SPACES) * rng.randint(0, 2)]
        for _ in range(rng.randint(0, 6)):
            parts += [rng.choice(WORDS + [f"w{rng.randint(0, 30)}"]), rng.choice(SPACES) * rng.randint(1, 2)]
        lines.append("".join(parts[:-1] if rng.random() < 0.5 else parts))
    return lines


def reference_tokenizer(lines: list[str], min_frequency: int, vocab_size: int | None) -> Tokenizer:
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size or 2**31 - 1,
        min_frequency=min_frequency,
        special_tokens=SPECIALS,
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer)
    return tok


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ascii_only", [False, True])
def test_split_matches_whitespace_split(seed, ascii_only):
    lines = random_lines(random.Random(seed), 300)
    if ascii_only:  # Arrow's ASCII split (a faster kernel) cuts these; U+001C..U+001F stay inside words
        lines = [line.encode("ascii", "replace").decode() for line in lines]
    got, per_line = words.split_words(pa.array(lines))
    expected = [[w for w, _ in pre_tokenizers.WhitespaceSplit().pre_tokenize_str(line)] for line in lines]
    assert got.to_pylist() == [w for ws in expected for w in ws]
    assert per_line.tolist() == [len(ws) for ws in expected]


@pytest.mark.parametrize("seed", range(3))
def test_split_of_a_slice_with_nothing_to_drop(seed):
    """Lines without leading or trailing spaces (no empty strings to filter out, the common case) and a slice of
    an array (offsets not starting at 0) cut as WhitespaceSplit cuts them."""
    rng = random.Random(seed)
    inner = [s for s in SPACES if s not in ("\x1c", "\x1f", "\u200b")]
    lines = [rng.choice(inner).join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))) for _ in range(200)]
    for array, kept in ((pa.array(lines), lines), (pa.array(lines).slice(37, 101), lines[37:138])):
        got, per_line = words.split_words(array)
        expected = [[w for w, _ in pre_tokenizers.WhitespaceSplit().pre_tokenize_str(line)] for line in kept]
        assert got.to_pylist() == [w for ws in expected for w in ws]
        assert per_line.tolist() == [len(ws) for ws in expected]


@pytest.mark.parametrize(("min_frequency", "vocab_size"), [(1, None), (3, None), (1, 12)])
def test_vocabulary_is_the_trainers_order(min_frequency, vocab_size):
    # Without literal special tokens in the text: there the trainer's ids agree with ours.
    rng = random.Random(min_frequency)
    lines = [line.replace("<unk>", "u").replace("<eos>", "e") for line in random_lines(rng, 400)]
    ours = train_tokenizer(lines, "word", min_frequency, vocab_size)
    reference = reference_tokenizer(lines, min_frequency, vocab_size)
    assert ours.get_vocab() == reference.get_vocab()
    assert ours.to_str() == reference.to_str()


def test_spelled_out_specials_keep_their_ids():
    tok = train_tokenizer(["<unk> <unk> a b b <eos>"], "word")
    assert tok.token_to_id(UNK) == 0 and tok.token_to_id(EOS) == 1
    assert sorted(tok.get_vocab().values()) == list(range(tok.get_vocab_size()))


@pytest.mark.parametrize("skip_empty", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_encode_equals_tokenizers_encode(seed, skip_empty):
    rng = random.Random(100 + seed)
    tok = train_tokenizer(random_lines(rng, 200), "word", min_frequency=2)
    eos = tok.token_to_id(EOS)
    lines = random_lines(rng, 300)
    if seed % 2:  # batches without special tokens inside words take the Arrow path
        lines = [line.replace("<eos>", "e").replace("<unk>", "u") + " <unk> <eos>" for line in lines]
    encoder = words.ArrowEncoder(tok, eos)
    got = encoder.encode(pa.array(lines), skip_empty)
    kept = [line for line in lines if not skip_empty or tok.encode(line).ids]
    expected = [tok.encode(line).ids + [eos] for line in kept]
    if seed % 2:
        assert got is not None and got.to_pylist() == expected
    else:
        assert got is None  # "a<eos>b": the tokenizer cuts the special token out; the caller uses it


def test_only_plain_word_level_tokenizers_take_the_arrow_path():
    assert words.is_whitespace_word_level(train_tokenizer(["a b"], "word"))
    assert not words.is_whitespace_word_level(train_tokenizer(["a b"], "char"))
    assert not words.is_whitespace_word_level(train_tokenizer(["a b c d"] * 3, "bpe"))
    lowered = train_tokenizer(["a b"], "word")
    from tokenizers import normalizers

    lowered.normalizer = normalizers.Lowercase()
    assert not words.is_whitespace_word_level(lowered)
    from tokenizers import pre_tokenizers, processors

    for change in (
        lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit()])),
        lambda t: setattr(t, "post_processor", processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", 1)])),
        lambda t: t.add_tokens(["a b"]),  # an added word (not special) is matched before the split
    ):  # fmt: skip
        changed = train_tokenizer(["a b"], "word")
        change(changed)
        assert not words.is_whitespace_word_level(changed)


def test_ids_of_a_whole_split_equal_the_tokenizers(tmp_path):
    """Through `prepare_data`: the cached ids are the tokenizer's ids with <eos> after every line."""
    from data_modules.lm.config import LMDataConfig
    from data_modules.lm.datamodule import LMDataModule

    rng = random.Random(7)
    for split in ("train", "valid", "test"):
        text = "\n".join(line.replace("\n", " ").replace("\r", " ").replace("\x85", " ").replace("\u2028", " ")
                         for line in random_lines(rng, 500))  # fmt: skip
        (tmp_path / f"{split}.txt").write_text(text + "\n")
    dm = LMDataModule(
        LMDataConfig(path=str(tmp_path), cache_dir=str(tmp_path / "cache"), skip_empty_lines=True)
    )
    dm.prepare_data()
    dm.setup()
    lines = [
        line for line in (tmp_path / "test.txt").read_text().split("\n")[:-1] if dm.tokenizer.encode(line).ids
    ]
    expected = np.concatenate([dm.tokenizer.encode(line).ids + [1] for line in lines])
    assert np.array_equal(np.asarray(dm.ids["test"]), expected)


def test_counts_are_the_same_in_small_batches():
    """Counting adds up per-batch counts: any batching gives the totals of one batch, and of a plain Counter."""
    from collections import Counter

    from data_modules.lm.word_pass import WordPass

    lines = random_lines(random.Random(9), 500)
    whole = WordPass(SPECIALS).count([pa.array(lines)])
    pieces = WordPass(SPECIALS).count(pa.array(lines[i : i + 7]) for i in range(0, 500, 7))
    expected = Counter(
        w for line in lines for w, _ in pre_tokenizers.WhitespaceSplit().pre_tokenize_str(line)
    )
    assert dict(zip(*pieces.to_pydict().values())) == dict(zip(*whole.to_pydict().values())) == expected
