"""Checks of a tagging corpus before anything trains on it: which tag scheme the training tags support,
and whether the vocabulary leaves anything to learn."""

from __future__ import annotations

import logging

import datasets
import numpy as np
from pytorch_lightning.utilities import rank_zero_warn

from data_modules.errors import DataError
from data_modules.tagging.scheme_detection import contradictions, scheme_evidence
from data_modules.tagging.vocab import PAD, UNK, TaggingVocab

SPECIALS = (PAD, UNK)
log = logging.getLogger(__name__)


def decide_scheme(train_tags: list[list[str]], wanted: str, limit: float = 0.05) -> str:
    """The scheme the training tags support ('auto') or the one given; tags contradicting it are named with
    counts in a warning, or refused when they are more than `limit` of the chunk tags."""
    scheme, against, total = scheme_evidence(train_tags)
    if wanted != "auto":
        scheme, against = wanted, (contradictions(train_tags)[wanted] if wanted != "none" else {})
    if scheme == "none" and wanted == "auto" and any("O" in tags for tags in train_tags):
        # IO tags (PER, LOC, O) look like POS tags, but POS tag sets have no "O": say how to get chunks.
        log.warning("The training tags have an 'O' but no B-/I-/E-/S- prefixes: scored by token accuracy. If the "
                    "others are entity types (IO: PER, LOC, O), set --data.scheme io for span F1.")  # fmt: skip
    if not against:
        return scheme
    n = sum(against.values())
    listed = ", ".join(f"{t} x{c}" for t, c in sorted(against.items(), key=lambda kv: -kv[1])[:8])
    if n > limit * total:
        raise DataError(
            f"The training tags do not follow one scheme: {n} of {total} chunk tags contradict {scheme} ({listed}). "
            "Fix the tags, or set --data.scheme to the corpus' scheme."
        )
    log.warning("%d training tag(s) contradict the %s scheme and are read as conlleval reads them: %s",
                n, scheme, listed)  # fmt: skip
    return scheme


def check_degenerate(vocab: TaggingVocab, train: datasets.Dataset | None) -> None:
    """A single training tag, a word vocabulary of only special tokens, or one that leaves most training words
    <unk>, trains a model of nothing: an error, not a result."""
    if vocab.from_checkpoint or train is None:
        return
    if len(vocab.corpus_tags) < 2:  # e.g. a CoNLL-U column this treebank leaves empty ('_'): 100% of nothing
        (tag,) = vocab.corpus_tags
        empty = " ('_' is CoNLL-U's empty value: is --data.conllu_column a column this treebank fills?)"
        raise DataError(
            f"Every training tag is '{tag}': there is nothing to learn{empty if tag == '_' else ''}. "
            "Check the tag column (--data.conll_tag_index, --data.conllu_column, --data.tags_column)."
        )
    if vocab.words.get_vocab_size() <= len(SPECIALS):
        raise DataError(
            "The word vocabulary holds only special tokens: no training word is kept. Lower --data.min_frequency."
        )
    unk = vocab.words.token_to_id(UNK)
    words = np.concatenate([np.asarray(w, dtype=np.int64) for w in train["words"]] or [np.zeros(0)])
    share = float(np.count_nonzero(words == unk)) / max(len(words), 1)
    if share > 0.5:
        raise DataError(
            f"{share:.0%} of the training words are unknown (<unk>) to the word vocabulary; "
            "lower --data.min_frequency."
        )


def check_coverage(vocab: TaggingVocab, splits: dict, limit: float = 0.5) -> None:
    """Data whose words are mostly unknown to a checkpoint's vocabulary is not what it was trained for: its
    scores would describe the wrong corpus, so it is an error, not a result."""
    unk = vocab.words.token_to_id(UNK)
    for split, data in splits.items():
        words = data.columns["words"]
        share = float(np.count_nonzero(words == unk)) / max(len(words), 1)
        if share > limit:
            raise DataError(
                f"The {split} split does not match the checkpoint's vocabulary: {share:.0%} of its words are "
                "unknown to it. Evaluate on data of the kind the model was trained on."
            )


def warn_unseen(unseen: dict[str, dict[str, int]]) -> None:
    """Say which gold tags of each split the model cannot predict ({split: {tag: count}}); they are scored."""
    for split, counts in unseen.items():
        listed = ", ".join(f"{t} ({n})" for t, n in counts.items())
        rank_zero_warn(f"The {split} split has gold tags the model cannot predict (never in training): {listed}; "
                       "they are scored as misses.")  # fmt: skip
