"""Several corpora as one LM corpus, mixed with weights (`--data.mix {path: weight, ...}`).

Every corpus is tokenized into its own cache entries (one per split, with the one tokenizer trained on
all their training splits), so changing a weight re-tokenizes nothing. The training stream is then
written as one more entry: blocks of `BLOCK` tokens drawn from each corpus in proportion to its weight
(a heavy corpus repeats, a light one is subsampled; one epoch is as long as all corpora together),
in an order fixed by `SEED`. A fixed file makes the mixture the same on every rank, in every run, and
resumable exactly like a single corpus. Validation and test are the corpora's splits one after another,
unweighted, so their perplexity scores every held-out token once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from data_modules.entries import build_entry, disk_error, write_manifest
from data_modules.errors import DataError
from data_modules.files import atomic_open, fingerprint
from data_modules.lm.token_cache import load_ids
from data_modules.sources import Source, resolve_source
from data_modules.split_files import SPLITS

BLOCK = 4096
"""Tokens per block: long next to a bptt window (windows rarely straddle two corpora), short next to a corpus."""
SEED = 0
"""Seed of the block order; fixed, so the mixture depends only on the corpora and their weights."""


@dataclass
class MixedSource:
    """The corpora of a mixture, as `resolve_source` gives each, with their weights."""

    parts: list[tuple[Source, float]]

    @property
    def fingerprint(self) -> str:
        """The tokenizer's key: the corpora (not the weights, which change no token id)."""
        return fingerprint([s.fingerprint for s, _ in self.parts])


def concatenated(splits: list[Callable[[], datasets.Dataset]]) -> datasets.Dataset:
    """The training split the tokenizer learns from: every corpus's, loaded by `splits` (one corpus: its own)."""
    return splits[0]() if len(splits) == 1 else datasets.concatenate_datasets([load() for load in splits])


def mixed_source(mix: dict[str, float], encoding: str) -> MixedSource:
    if not mix or any(not w > 0 for w in mix.values()):
        raise DataError(f"--data.mix needs at least one corpus and positive weights, got {mix}.")
    return MixedSource(
        [(resolve_source(path, None, None, encoding=encoding), float(w)) for path, w in mix.items()]
    )


def block_order(lengths: list[int], weights: list[float] | None) -> np.ndarray:
    """(n, 2) int64 rows (corpus, block): the mixed stream as blocks of the corpora's id arrays.

    With weights, corpus i gets a share w_i / sum(w) of the sum(ceil(len / BLOCK)) blocks (largest remainder),
    taken from a seeded permutation of its own blocks (repeated as often as needed), and all picks are
    shuffled. Without weights, every block of every corpus once, in order.
    """
    blocks = [-(-n // BLOCK) for n in lengths]
    if weights is None:
        return np.array([(i, b) for i, n in enumerate(blocks) for b in range(n)], dtype=np.int64).reshape(
            -1, 2
        )
    rng = np.random.default_rng(SEED)
    total, w = sum(blocks), np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]] += 1
    picks = []
    for i, (n, c) in enumerate(zip(blocks, counts)):
        cycle = np.concatenate([rng.permutation(n) for _ in range(-(-c // n))])[:c]
        picks.append(np.stack([np.full(c, i), cycle], axis=1))
    order = np.concatenate(picks)
    return order[rng.permutation(len(order))]


def write_mixed(out: Path, arrays: list[np.ndarray], order: np.ndarray) -> int:
    """Write the blocks of `arrays` in `order` as one .npy cache entry (block by block: memory stays flat)."""
    lengths = [min(BLOCK, len(arrays[i]) - b * BLOCK) for i, b in order]
    total = int(sum(lengths))
    dtype = np.result_type(*[a.dtype for a in arrays])
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (total,)}
    try:
        with atomic_open(out) as f:
            np.lib.format.write_array_header_1_0(f, header)
            for i, b in order:
                f.write(np.asarray(arrays[i][b * BLOCK : (b + 1) * BLOCK], dtype=dtype).tobytes())
        write_manifest(out, meta={"dtype": dtype.name, "blocks": len(order)})
    except OSError as e:
        raise disk_error(out, e) from None
    return total


def build(source: Source | MixedSource, mixed: dict[str, Path], tokenized: list) -> None:
    """Write a mixture's entries from its corpora's (already built) id files, unless they are whole."""
    if not isinstance(source, MixedSource):
        return
    for split, out in mixed.items():
        arrays = [load_ids(paths[split]) for _, paths in tokenized]
        order = block_order(
            [len(a) for a in arrays], [w for _, w in source.parts] if split == "train" else None
        )
        build_entry(
            out,
            lambda out=out, arrays=arrays, order=order: write_mixed(out, arrays, order),
            f"{split} mixture",
        )


def id_files(
    cache: Path, source: Source | MixedSource, tok_key: str, settings: dict
) -> tuple[dict[str, Path], list]:
    """The per-split id files a run reads, and the corpora tokenized into files: [(source, {split: file})], one
    per corpus of a mixture (the run then reads the mixed files), else the run's files themselves."""
    parts = source.parts if isinstance(source, MixedSource) else [(source, 1.0)]
    tokenized = [
        (src, {s: cache / f"ids-{fingerprint(src.fingerprint, s, tok_key, settings)}.npy" for s in SPLITS})
        for src, _ in parts
    ]
    if not isinstance(source, MixedSource):
        return tokenized[0][1], tokenized
    return mixed_paths(cache, [paths for _, paths in tokenized], [w for _, w in parts]), tokenized


def mixed_paths(cache: Path, parts: list[dict[str, Path]], weights: list[float]) -> dict[str, Path]:
    """The mixture's own entries, keyed by its corpora's entries, the weights, the block size and the seed."""
    return {
        s: cache
        / f"ids-mix-{fingerprint([str(p[s].name) for p in parts], weights if s == 'train' else None, BLOCK, SEED)}.npy"
        for s in SPLITS
    }
