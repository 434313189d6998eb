"""Corpora for the GPU check: the real Brown and CoNLL-2003 folders, or stand-ins of the same size.

The stand-ins have Brown's and CoNLL-2003's token counts, sentence lengths and vocabulary sizes
(Zipf-distributed words), because throughput depends on those and not on the words themselves.
A scale below 1 shrinks every count (the dry run).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BROWN = {"train": 800_000, "valid": 200_000, "test": 181_000}
"""Tokens per split (Bengio et al. 2003's split of the Brown corpus)."""
BROWN_TYPES = 47_000
CONLL = {"train": (14_041, 203_621), "valid": (3_250, 51_362), "test": (3_453, 46_435)}
"""(sentences, tokens) per split of CoNLL-2003 English."""
CONLL_TYPES = 23_600
ENTITY_TYPES = ("PER", "LOC", "ORG", "MISC")


def _zipf(rng: np.random.Generator, types: int, n: int) -> np.ndarray:
    p = 1.0 / np.arange(1, types + 1) ** 1.07
    return rng.choice(types, size=n, p=p / p.sum())


def _spelling(types: int, seed: int) -> list[str]:
    """A distinct lower-case spelling of 2-10 letters per word type (characters matter to the char CNN)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    lengths = rng.integers(2, 11, size=types)
    pool = rng.choice(letters, size=int(lengths.sum()))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out, seen = [], set()
    for i, (a, n) in enumerate(zip(starts, lengths)):
        word = "".join(pool[a : a + n]) + (str(i) if i % 97 == 0 else "")
        while word in seen:
            word += "x"
        seen.add(word)
        out.append(word)
    return out


def write_brown(folder: Path, scale: float = 1.0, seed: int = 0) -> Path:
    """train/valid/test.txt: one sentence a line (mean 20 tokens), Brown's token counts times `scale`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    types = max(50, int(BROWN_TYPES * min(1.0, scale * 4)))
    vocab = np.array(_spelling(types, seed))
    for split, tokens in BROWN.items():
        n = max(200, int(tokens * scale))
        words = vocab[_zipf(rng, types, n)]
        cuts = np.cumsum(rng.integers(5, 36, size=n // 5 + 1))
        cuts = cuts[cuts < n]
        lines = [" ".join(s) for s in np.split(words, cuts) if len(s)]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def _lengths(rng: np.random.Generator, sentences: int, mean: float) -> np.ndarray:
    """Sentence lengths with CoNLL's mean and a long tail up to 113 tokens."""
    lengths = 1 + rng.poisson(mean - 1, size=sentences)
    long = rng.random(sentences) < 0.02
    lengths[long] = rng.integers(40, 114, size=int(long.sum()))
    return lengths


def write_conll(folder: Path, scale: float = 1.0, seed: int = 0) -> Path:
    """train/valid/test.txt in CoNLL-2003's 4-column layout with IOB2 tags for 4 entity types."""
    rng = np.random.default_rng(seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    types = max(50, int(CONLL_TYPES * min(1.0, scale * 4)))
    vocab = _spelling(types, seed + 1)
    for split, (sentences, tokens) in CONLL.items():
        count = max(20, int(sentences * scale))
        lines = ["-DOCSTART- -X- -X- O", ""]
        lengths = _lengths(rng, count, tokens / sentences)
        all_ids = np.split(_zipf(rng, types, int(lengths.sum())), np.cumsum(lengths)[:-1])
        for s, (length, ids) in enumerate(zip(lengths, all_ids)):
            tags, t = ["O"] * int(length), 0
            while t < length:  # ~17% of tokens in entities, spans of 1-3 words
                if rng.random() < 0.09:
                    kind, span = ENTITY_TYPES[rng.integers(4)], int(rng.integers(1, 4))
                    for j in range(t, min(t + span, int(length))):
                        tags[j] = ("B-" if j == t else "I-") + kind
                    t += span
                t += 1
            for i, tag in zip(ids, tags):
                word = vocab[i].capitalize() if tag != "O" else vocab[i]
                lines.append(f"{word} NN I-NP {tag}")
            lines.append("")
            if s % 15 == 14:
                lines += ["-DOCSTART- -X- -X- O", ""]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def corpora(data: Path | None, work: Path, scale: float) -> tuple[Path, Path, str]:
    """(brown folder, conll2003 folder, description): the real ones under `data`, or generated ones."""
    if data is not None:
        return data / "brown", data / "conll2003", f"real corpora from {data}"
    brown, conll = write_brown(work / "brown", scale), write_conll(work / "conll2003", scale)
    return brown, conll, f"generated stand-ins at {scale:g} x the sizes of Brown and CoNLL-2003"
