"""Word, character and tag vocabularies of a tagging corpus, built from its training split only.

Words and characters are Hugging Face `tokenizers` WordLevel models (`<pad>` = 0, `<unk>` = 1),
so they are saved and reloaded as plain tokenizer JSON. Lower-casing is the word tokenizer's
normalizer, so a saved `words.json` applies it by itself; characters keep their case.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable

from tokenizers import Tokenizer, models, normalizers

from data_modules.errors import DataError
from data_modules.tag_schemes import SCHEMES, chunk_tag, chunk_types, convert, separator

log = logging.getLogger(__name__)
PAD, UNK = "<pad>", "<unk>"
ARTIFACTS = ("words.json", "chars.json", "tags.json")


NUM_CASE_CLASSES = 6  # the classes `casing` returns, padding (0) included


def casing(word: str) -> int:
    """Casing class: 1 lower, 2 upper, 3 title, 4 has a digit, 5 other (0 is padding)."""
    if any(c.isdigit() for c in word):
        return 4
    if word.islower():
        return 1
    if word.isupper():
        return 2
    return 3 if word.istitle() else 5


def _word_level(counts: Counter, min_frequency: int, lowercase: bool) -> Tokenizer:
    # The vocabulary dict is built here rather than with WordLevelTrainer: ids are then explicit
    # (pad 0, unk 1, then by frequency, ties alphabetical) and there is no implicit vocab_size cap.
    kept = sorted((w for w, c in counts.items() if c >= min_frequency), key=lambda w: (-counts[w], w))
    vocab = {PAD: 0, UNK: 1}
    for w in kept:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    return tok


def tag_order(tags: Iterable[str]) -> list[str]:
    """Sorted, with "O" first."""
    return sorted(set(tags), key=lambda t: (t != "O", t))


class TaggingVocab:
    """Word/char tokenizers and tag names; `encode` turns sentences into id lists for the cache."""

    def __init__(
        self,
        words: Tokenizer,
        chars: Tokenizer,
        corpus_tags: list[str],
        train_tags: list[str],
        corpus_scheme: str,
        train_scheme: str,
        from_checkpoint: bool = False,
    ):
        self.words, self.chars = words, chars
        self.corpus_tags, self.train_tags = corpus_tags, train_tags
        self.corpus_scheme, self.train_scheme = corpus_scheme, train_scheme
        self.separator = separator(corpus_tags)  # "B-PER" or "B_PER": training tags keep the corpus' notation
        self.from_checkpoint = from_checkpoint
        self.gold_tags = list(corpus_tags)  # names of gold ids: corpus_tags, then tags train never had
        self._gold_ids = {t: i for i, t in enumerate(corpus_tags)}
        self._train_ids = {t: i for i, t in enumerate(train_tags)}

    def unseen(self, tag_seqs: Iterable[list[str]]) -> Counter:
        """Tag -> count of the tags in `tag_seqs` that are not among the corpus tags the model knows."""
        known = set(self.corpus_tags)
        return Counter(t for ts in tag_seqs for t in ts if t not in known)

    def extend_gold(self, tags: Iterable[str]) -> None:
        """Give gold ids (after the known ones, in sorted order) to tags the model cannot predict, so they are
        scored (as misses) instead of refused."""
        for t in sorted(set(tags) - set(self.gold_tags)):
            self._gold_ids[t] = len(self.gold_tags)
            self.gold_tags.append(t)

    @classmethod
    def build(
        cls,
        sentences: Iterable[list[str]],
        tag_seqs: list[list[str]],
        corpus_scheme: str,
        train_scheme: str,
        lowercase: bool = False,
        min_frequency: int = 1,
    ) -> TaggingVocab:
        """Vocabularies of the training split. `train_scheme` is "same" or "bioes"."""
        norm = normalizers.Lowercase() if lowercase else None
        words: Counter = Counter()
        chars: Counter = Counter()
        for s in sentences:
            words.update([norm.normalize_str(w) for w in s] if norm else s)
            for w in s:
                chars.update(w)
        corpus_tags = tag_order(t for ts in tag_seqs for t in ts)
        sep = separator(corpus_tags)
        train_tags = corpus_tags
        if corpus_scheme == "none" and train_scheme != "same":
            # POS-like tags have no chunks to re-encode: the recipe's chunk scheme does not apply to them.
            log.info("No chunk tags (e.g. %s): trained as they are (train_scheme same)", corpus_tags[:5])
            train_scheme = "same"
        if train_scheme not in ("same", corpus_scheme):
            types = chunk_types(corpus_tags, corpus_scheme)
            train_tags = tag_order(["O"] + [chunk_tag(p, ty, sep) for ty in types for p in "BIES"])
        else:
            train_scheme = corpus_scheme
            if corpus_scheme in SCHEMES:
                # Training targets are the corpus' chunks rewritten in its own scheme (a stray I- after O becomes
                # B-), so the CRF constraints never forbid a transition of the gold training data.
                repaired = (t for ts in tag_seqs for t in convert(ts, corpus_scheme, corpus_scheme, sep))
                train_tags = tag_order([*corpus_tags, *repaired])
        return cls(
            _word_level(words, min_frequency, lowercase),
            _word_level(chars, 1, False),
            corpus_tags,
            train_tags,
            corpus_scheme,
            train_scheme,
        )

    @classmethod
    def from_artifacts(cls, artifacts: dict[str, str]) -> TaggingVocab:
        missing = [k for k in ARTIFACTS if k not in artifacts]
        if missing:
            raise DataError(f"The saved vocabulary lacks {', '.join(missing)}; it holds {sorted(artifacts)}.")
        try:
            tags = json.loads(artifacts["tags.json"])
            return cls(
                Tokenizer.from_str(artifacts["words.json"]),
                Tokenizer.from_str(artifacts["chars.json"]),
                tags["corpus_tags"],
                tags["train_tags"],
                tags["corpus_scheme"],
                tags["train_scheme"],
                from_checkpoint=True,
            )
        except Exception as e:  # tokenizers raises plain Exception on bad JSON
            raise DataError(
                f"The saved vocabulary (words.json/chars.json/tags.json) is unreadable: {e}"
            ) from None

    def artifacts(self) -> dict[str, str]:
        tags = {
            "corpus_tags": self.corpus_tags,
            "train_tags": self.train_tags,
            "corpus_scheme": self.corpus_scheme,
            "train_scheme": self.train_scheme,
        }
        return {
            "words.json": self.words.to_str(),
            "chars.json": self.chars.to_str(),
            "tags.json": json.dumps(tags),
        }

    def encode(
        self,
        sentences: list[list[str]],
        tag_seqs: list[list[str]] | None,
        max_word_length: int,
        split: str,
        indices: list[int],
    ) -> dict[str, list]:
        """Id lists per sentence: `words`, `chars` (per word), `case`, `tags` (training scheme), `gold`
        (corpus scheme), `length`. `indices` are the sentences' positions in `split`, for error messages."""
        # Empty strings would vanish in the tokenizer and shift every later word; they become <unk>.
        safe = [[w or UNK for w in s] for s in sentences]
        word_ids = [e.ids for e in self.words.encode_batch(safe, is_pretokenized=True)]
        flat = [list(w[:max_word_length]) or [UNK] for s in sentences for w in s]
        flat_ids = [e.ids for e in self.chars.encode_batch(flat, is_pretokenized=True)]
        chars, pos = [], 0
        for s in sentences:
            chars.append(flat_ids[pos : pos + len(s)])
            pos += len(s)
        out = {
            "words": word_ids,
            "chars": chars,
            "case": [[casing(w) for w in s] for s in sentences],
            "length": [len(s) for s in sentences],
        }
        if tag_seqs is None:
            out["gold"] = out["tags"] = [[0] * len(s) for s in sentences]
            return out
        gold, tags = [], []
        for i, (s, ts) in enumerate(zip(sentences, tag_seqs)):
            if len(ts) != len(s):
                raise DataError(f"{split} sentence {indices[i] + 1} has {len(s)} tokens but {len(ts)} tags")
            gold.append([self._gold_id(t, split) for t in ts])
            schemes = self.train_scheme in SCHEMES and self.corpus_scheme in SCHEMES
            train = convert(ts, self.corpus_scheme, self.train_scheme, self.separator) if schemes else ts
            # A checkpoint's tag set may lack a repaired tag: the corpus' own tag then is the target. A tag train
            # never had occurs only in evaluated splits, whose `tags` feed no loss: 0 stands in.
            tags.append([self._train_ids.get(t, self._train_ids.get(o, 0)) for t, o in zip(train, ts)])
        out["gold"], out["tags"] = gold, tags
        return out

    def _gold_id(self, tag: str, split: str) -> int:
        if tag not in self._gold_ids:  # a bug (extend_gold was not told), not a data problem
            raise RuntimeError(f"tag '{tag}' of {split} has no gold id; call extend_gold first")
        return self._gold_ids[tag]
