"""Hugging Face `tokenizers` for language modelling: word-level, byte-level BPE, or characters.

Trained on the training split only. `<unk>` and the end-of-line token `<eos>` are always the first
two ids, so a checkpoint's tokenizer can be checked against the data at a glance.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from data_modules import files
from data_modules.errors import DataError
from data_modules.lm import long_lines, words
from data_modules.lm.word_pass import WordPass

UNK, EOS = "<unk>", "<eos>"
SPECIALS = [UNK, EOS]
Kind = Literal["word", "bpe", "char"]


def train_tokenizer(
    texts: Iterable[str] | Iterable[pa.Array] | pa.ChunkedArray | pa.Array,
    kind: Kind,
    min_frequency: int = 1,
    vocab_size: int | None = None,
    word_pass: WordPass | None = None,
    num_proc: int = 1,
) -> Tokenizer:
    """Train a tokenizer of `kind` on the lines of the training split (strings, an Arrow column, or its
    batches as `text_stream.text_batches` reads them).

    `vocab_size` caps the vocabulary (the most frequent entries are kept); `min_frequency` drops
    rarer words (word-level) or merges (BPE). A word vocabulary is counted by `word_pass` (a fresh one when
    None) in `num_proc` processes. A split of nothing but blank lines is an error.
    """
    batches = _as_batches(texts)
    if kind == "word":
        # The classic LM corpora (PTB, WikiText, Brown) come tokenized: split on whitespace only.
        # Counted in Arrow (data_modules/lm/word_pass.py) rather than by WordLevelTrainer: several times
        # faster, and `<unk>`/`<eos>` keep ids 0 and 1 even when the corpus spells them out (the
        # trainer gives such a word a second, new id).
        counts = (word_pass or WordPass(SPECIALS)).count(batches, num_proc)
        if not len(counts):
            raise DataError(_BLANK)
        return words.build_tokenizer(counts, SPECIALS, min_frequency, vocab_size)
    seen = []  # set when a line with text goes by: the trainers accept a split of blank lines silently
    # Long lines in pieces (data_modules/lm/long_lines.py): the counts, hence the tokenizer, are the same.
    texts = (
        seen.append(1) or t if not seen and t.strip() else t
        for batch in batches
        for line in batch.to_pylist()
        for t in long_lines.pieces(line)
    )
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size or 8192,
            min_frequency=max(min_frequency, 2),
            special_tokens=SPECIALS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    elif kind == "char":
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        # Every character is a token, spaces included, and decoding joins them back without separators.
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        tok.decoder = decoders.Fuse()
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size or 2**31 - 1, min_frequency=min_frequency, special_tokens=SPECIALS
        )
    else:
        raise DataError(f"Unknown tokenizer '{kind}': use word, bpe or char.")
    if kind == "char":
        trainer.show_progress = False
    with tokenizers_threads():
        tok.train_from_iterator(texts, trainer)
    if not seen:
        raise DataError(_BLANK)
    return tok


@contextlib.contextmanager
def tokenizers_threads() -> Iterator[None]:
    """`tokenizers`' own threads on while a tokenizer trains, off again after.

    The CLI turns them off (TOKENIZERS_PARALLELISM=false) because processes forked later (the encoding workers,
    DataLoader workers) must not use them: threads do not survive a fork. Training forks nothing, and with them
    BPE trains 1.2-1.5x faster on 2 cores (30 MB of text, 16k merges: 4.1-4.3 s -> 2.7-3.5 s in two sessions of
    runs) into the same merges. Off again after, whatever the value was before; RAYON_NUM_THREADS limits them.
    """
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        yield
    finally:
        os.environ["TOKENIZERS_PARALLELISM"] = before if before is not None else "false"


_BLANK = "The train split is empty: it has no text to model (only blank lines)."


def _as_batches(texts, size: int = 10_000) -> Iterator[pa.Array]:
    """Arrow arrays of lines, whatever `train_tokenizer` was given."""
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        for start in range(0, len(texts), size):
            yield texts.slice(start, size)
        return
    items = iter(texts)
    first = next(items, None)
    if isinstance(first, (pa.Array, pa.ChunkedArray)):
        yield first
        yield from items
    elif first is not None:
        yield pa.array([first, *items], pa.large_string())


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A `tokenizer.json`, with a readable error when it is missing or is not a tokenizer."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Tokenizer file '{path}' does not exist.")
    try:
        tok = Tokenizer.from_file(str(p))
    except Exception as e:  # tokenizers raises plain Exception subclasses for bad JSON
        raise DataError(f"'{path}' is not a Hugging Face tokenizer.json: {e}") from None
    check_specials(tok, str(path))
    return tok


def from_json(text: str) -> Tokenizer:
    tok = Tokenizer.from_str(text)
    check_specials(tok, "the checkpoint's tokenizer")
    return tok


def check_specials(tok: Tokenizer, where: str) -> None:
    if tok.token_to_id(EOS) is None:
        raise DataError(f"{where} has no '{EOS}' token; language modelling needs an end-of-line token.")


def fingerprint(tok: Tokenizer) -> str:
    """A stable identity of the tokenizer's full definition (vocabulary, merges, normalisation)."""
    return files.fingerprint(json.loads(tok.to_str()), length=16)


def check_vocabulary(tok: Tokenizer, min_frequency: int, vocab_size: int | None) -> None:
    """A vocabulary of nothing but <unk> and <eos> models no word: every perplexity would be a fake."""
    if tok.get_vocab_size() <= len(SPECIALS):
        raise DataError(
            f"The vocabulary holds only the special tokens {', '.join(SPECIALS)}: no word of the training "
            f"split is kept (min_frequency {min_frequency}, vocab_size {vocab_size}). "
            "Lower --data.min_frequency or check the training files."
        )


def unknown_count(ids: np.ndarray, unk: int, recorded: int | None) -> int:
    """How many of `ids` are `unk`: the count the cache recorded when it was written, else counted in slices
    (a comparison over the whole array at once would allocate one byte per token)."""
    if recorded is not None:
        return recorded
    step = 1 << 24
    return sum(int(np.count_nonzero(ids[i : i + step] == unk)) for i in range(0, len(ids), step))


def check_coverage(
    tok: Tokenizer, ids: dict[str, np.ndarray], given: bool, min_frequency: int, vocab_size: int | None,
    limit: float = 0.5, unknown: dict[str, int | None] | None = None,
) -> None:  # fmt: skip
    """A given tokenizer (a checkpoint's) that maps most of a split to <unk>, or a trained vocabulary cut so short
    that most training tokens are <unk>, makes perplexity a number about <unk>: an error, not a result."""
    unk = tok.token_to_id(UNK)
    for split, split_ids in ids.items():
        share = unknown_count(split_ids, unk, (unknown or {}).get(split)) / max(len(split_ids), 1)
        if share > limit and given:
            raise DataError(
                f"The {split} split does not match the tokenizer given (the checkpoint's or --data.tokenizer_file): "
                f"{share:.0%} of its tokens are unknown to it. Evaluate on data of the kind the model was trained on."
            )
        if share > limit and split == "train":  # dev/test words unseen in training are legitimate
            raise DataError(
                f"{share:.0%} of the {split} split's tokens are unknown (<unk>) to the vocabulary trained on the "
                f"training split (min_frequency {min_frequency}, vocab_size {vocab_size}): "
                "the perplexity would be about <unk>. Lower --data.min_frequency or raise --data.vocab_size."
            )
