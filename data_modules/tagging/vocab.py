"""Word, character and tag vocabularies of a tagging corpus, built from its training split only.

Words and characters are Hugging Face `tokenizers` WordLevel models (`<pad>` = 0, `<unk>` = 1),
so they are saved and reloaded as plain tokenizer JSON. Lower-casing is the word tokenizer's
normalizer, so a saved `words.json` applies it by itself; characters keep their case.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import numpy as np
from tokenizers import Tokenizer, models, normalizers

from data_modules.errors import DataError
from data_modules.tag_schemes import SCHEMES, convert, split_tag

PAD, UNK = "<pad>", "<unk>"
ARTIFACTS = ("words.json", "chars.json", "tags.json")


NUM_CASE_CLASSES = 6
"""The classes `casing` returns, padding (0) included."""


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
        self.from_checkpoint = from_checkpoint
        self._gold_ids = {t: i for i, t in enumerate(corpus_tags)}
        self._train_ids = {t: i for i, t in enumerate(train_tags)}

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
        train_tags = corpus_tags
        if train_scheme not in ("same", corpus_scheme):
            if corpus_scheme == "none":
                raise DataError(
                    f"train_scheme '{train_scheme}' needs chunk tags (B-/I- prefixes), but the corpus tags "
                    f"have none (e.g. {corpus_tags[:5]}); set --data.train_scheme same."
                )
            types = {split_tag(t)[1] for t in corpus_tags} - {""}
            train_tags = tag_order(["O"] + [f"{p}-{ty}" for ty in types for p in "BIES"])
        else:
            train_scheme = corpus_scheme
            if corpus_scheme in SCHEMES:
                # Training targets are the corpus' chunks rewritten in its own scheme (a stray I- after O becomes
                # B-), so the CRF constraints never forbid a transition of the gold training data.
                repaired = (t for ts in tag_seqs for t in convert(ts, corpus_scheme, corpus_scheme))
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
            gold.append([self._tag_id(self._gold_ids, t, split, indices[i]) for t in ts])
            schemes = self.train_scheme in SCHEMES and self.corpus_scheme in SCHEMES
            train = convert(ts, self.corpus_scheme, self.train_scheme) if schemes else ts
            # A checkpoint's tag set may lack a repaired tag: the corpus' own tag then is the target.
            tags.append([self._train_ids.get(t, self._train_ids.get(o)) for t, o in zip(train, ts)])
        out["gold"], out["tags"] = gold, tags
        return out

    def _tag_id(self, ids: dict[str, int], tag: str, split: str, index: int) -> int:
        if tag in ids:
            return ids[tag]
        if self.from_checkpoint:
            raise DataError(
                f"tag '{tag}' in {split} (sentence {index + 1}) is not in the checkpoint's tag set {self.corpus_tags}"
            )
        raise DataError(f"tag '{tag}' in {split} (sentence {index + 1}) never occurs in the training split")


def load_word_vectors(path: str, words: Tokenizer, seed: int = 0) -> np.ndarray:
    """(V, D) float32 embeddings from a GloVe-format text file ("word v1 ... vD" a line, an optional
    word2vec header): vocabulary words found in the file get its vector (an exact match wins over a
    lower-cased one), the others random normal with the found vectors' scale, `<pad>` zeros."""
    vocab = words.get_vocab()
    norm = words.normalizer
    found: dict[int, np.ndarray] = {}
    exact: set[int] = set()
    dim = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.rstrip("\r\n ").split(" ")
            if lineno == 1 and len(parts) == 2 or not line.strip():
                continue
            dim = dim or len(parts) - 1
            if len(parts) < dim + 1 or dim < 1:
                raise DataError(
                    f"{path}:{lineno}: expected a word and {dim} numbers, found {len(parts)} fields"
                )
            word = " ".join(parts[:-dim])
            idx, is_exact = vocab.get(word), True
            if idx is None and norm is not None:
                idx, is_exact = vocab.get(norm.normalize_str(word)), False
            if idx is None or idx == 0 or (idx in exact and not is_exact):
                continue
            try:
                found[idx] = np.asarray(parts[-dim:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}:{lineno}: a vector value is not a number") from None
            if is_exact:
                exact.add(idx)
    if not found:
        raise DataError(f"No word of the vocabulary occurs in the word vectors '{path}'.")
    stacked = np.stack(list(found.values()))
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, float(stacked.std()) or 0.1, size=(len(vocab), dim)).astype(np.float32)
    out[list(found)] = stacked
    out[0] = 0.0
    return out
