"""A synthetic corpus with known statistics: text sampled from a random hidden Markov model.

Because the generating model is known, so is the best possible score: the true per-token
perplexity of a split is exp(-log P(split) / tokens) under the HMM (forward algorithm), and the
best achievable tagging accuracy, with the hidden states as tags, is that of posterior decoding
with the true parameters. Symbol 0 is the end of a line, so a split is an ordinary text file.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class HMM:
    start: np.ndarray
    """Initial state distribution (S,)."""
    trans: np.ndarray
    """State transitions (S, S), rows sum to 1."""
    emit: np.ndarray
    """Emissions (S, V), rows sum to 1; symbol 0 ends a line."""


def random_hmm(num_states: int = 8, vocab_size: int = 40, seed: int = 0, concentration: float = 0.1) -> HMM:
    """Sparse, peaky transitions and emissions (small Dirichlet concentration), so context matters."""
    rng = np.random.default_rng(seed)
    trans = rng.dirichlet(np.full(num_states, concentration), size=num_states)
    emit = rng.dirichlet(np.full(vocab_size, concentration), size=num_states)
    # Every state may end a line now and then, so lines have a natural length distribution.
    emit[:, 0] = 0.08
    emit[:, 1:] *= 0.92 / emit[:, 1:].sum(axis=1, keepdims=True)
    return HMM(np.full(num_states, 1.0 / num_states), trans, emit)


def sample(hmm: HMM, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n (state, symbol) pairs of one continuous run of the chain."""
    states = np.empty(n, dtype=np.int64)
    symbols = np.empty(n, dtype=np.int64)
    s = rng.choice(len(hmm.start), p=hmm.start)
    cum_trans, cum_emit = hmm.trans.cumsum(1), hmm.emit.cumsum(1)
    u = rng.random((n, 2))
    for i in range(n):
        states[i] = s
        symbols[i] = min(np.searchsorted(cum_emit[s], u[i, 0]), hmm.emit.shape[1] - 1)
        s = min(np.searchsorted(cum_trans[s], u[i, 1]), len(hmm.start) - 1)
    return states, symbols


def forward_log_likelihood(hmm: HMM, symbols: np.ndarray, prior: np.ndarray | None = None) -> float:
    """log P(symbols) under the HMM, by the scaled forward algorithm (natural log)."""
    alpha = (hmm.start if prior is None else prior) * hmm.emit[:, symbols[0]]
    total = 0.0
    for x in symbols[1:]:
        norm = alpha.sum()
        total += math.log(norm)
        alpha = (alpha / norm) @ hmm.trans * hmm.emit[:, x]
    return total + math.log(alpha.sum())


def posterior_decode(hmm: HMM, symbols: np.ndarray) -> np.ndarray:
    """The most probable state at each position given the whole sequence (the accuracy-optimal tagger)."""
    n, num_states = len(symbols), len(hmm.start)
    alpha = np.empty((n, num_states))
    beta = np.ones((n, num_states))
    a = hmm.start * hmm.emit[:, symbols[0]]
    alpha[0] = a / a.sum()
    for i in range(1, n):
        a = alpha[i - 1] @ hmm.trans * hmm.emit[:, symbols[i]]
        alpha[i] = a / a.sum()
    for i in range(n - 2, -1, -1):
        b = hmm.trans @ (hmm.emit[:, symbols[i + 1]] * beta[i + 1])
        beta[i] = b / b.sum()
    return (alpha * beta).argmax(1)


def stationary(hmm: HMM) -> np.ndarray:
    vals, vecs = np.linalg.eig(hmm.trans.T)
    v = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    return v / v.sum()


def word(symbol: int) -> str:
    return f"w{symbol}"


def write_lm_corpus(folder: Path, hmm: HMM, sizes: dict[str, int], seed: int = 0) -> dict[str, float]:
    """Write train.txt/valid.txt/test.txt (one line per run between end symbols); return reference perplexities.

    `true_ppl`: the HMM's own perplexity on the test tokens (end-of-line tokens included, as the LM
    counts them); `unigram_ppl`: a unigram model fitted on train (add-one smoothed) on the same tokens.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    streams = {}
    for split, n in sizes.items():
        _, symbols = sample(hmm, n, rng)
        if symbols[-1] != 0:
            symbols = np.append(symbols, 0)  # a file ends with a complete line
        streams[split] = symbols
        lines, current = [], []
        for x in symbols:
            if x == 0:
                lines.append(" ".join(current))
                current = []
            else:
                current.append(word(int(x)))
        name = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}[split]
        (folder / name).write_text("\n".join(lines) + "\n")
    test = streams["test"]
    # The LM reads the test split after an end-of-line token; condition the HMM the same way.
    after_eol = stationary(hmm) * hmm.emit[:, 0]
    prior = (after_eol / after_eol.sum()) @ hmm.trans
    true_ppl = math.exp(-forward_log_likelihood(hmm, test, prior) / len(test))
    counts = Counter(streams["train"].tolist())
    vocab = hmm.emit.shape[1]
    total = sum(counts.values()) + vocab
    unigram_nll = -sum(math.log((counts[int(x)] + 1) / total) for x in test) / len(test)
    return {"true_ppl": true_ppl, "unigram_ppl": math.exp(unigram_nll), "test_tokens": len(test)}


def write_tagging_corpus(
    folder: Path, hmm: HMM, sentences: dict[str, int], seed: int = 0
) -> dict[str, float]:
    """CoNLL files (`word state` per line, blank line between sentences) with the hidden states as tags.

    Returns the best achievable test accuracy: posterior decoding with the true HMM, per sentence
    (each sentence starts from the stationary distribution, as it is sampled).
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    prior = stationary(hmm)
    chain = HMM(prior, hmm.trans, hmm.emit)
    correct = total = 0
    for split, count in sentences.items():
        out = []
        for _ in range(count):
            length = int(rng.integers(4, 20))
            states, symbols = sample(chain, length, rng)
            symbols = np.where(symbols == 0, 1, symbols)  # no end-of-line symbol inside a sentence
            out.extend(f"{word(int(x))} S{int(s)}" for x, s in zip(symbols, states))
            out.append("")
            if split == "test":
                emit = hmm.emit.copy()
                emit[:, 1] += emit[:, 0]
                best = posterior_decode(HMM(prior, hmm.trans, emit), symbols)
                correct += int((best == states).sum())
                total += length
        name = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}[split]
        (folder / name).write_text("\n".join(out) + "\n")
    return {"best_accuracy": 100.0 * correct / max(total, 1), "test_tokens": total}
