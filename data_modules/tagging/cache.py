"""The encoded-corpus cache of the tagging data module: load the corpus, build or reuse the vocabulary,
encode every split (or, for evaluation, the one scored) with `datasets.map`, and write it once under
`cache_dir/tagging-<fingerprint>`.

The fingerprint covers the source, every config field that changes the encoding, a reused
vocabulary and the word-vector file, so a stale cache is never served. The folder is written under
a temporary name and renamed, so a crash never leaves a cache that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import datasets
import numpy as np

from data_modules.entries import build_entry, disk_error, write_manifest
from data_modules.errors import DataError
from data_modules.files import (
    files_fingerprint,
    fingerprint,
    remove_stale_temporaries,
    signals_deferred,
    temporary_name,
)
from data_modules.holdout import check_splits, hold_out
from data_modules.hub import load_builder
from data_modules.sources import hf_builder, resolve_source
from data_modules.tagging import conll
from data_modules.tagging.checks import check_degenerate, decide_scheme
from data_modules.tagging.columns import checked_columns
from data_modules.tagging.tag_names import tag_names
from data_modules.tagging.vectors import load_word_vectors
from data_modules.tagging.vocab import TaggingVocab

log = logging.getLogger(__name__)
# Config fields that only change batching, not the cached encoding.
_BATCH_FIELDS = (
    "batch_size",
    "eval_batch_size",
    "max_tokens_per_batch",
    "bucket",
    "num_workers",
    "cache_dir",
    "seed",
)
_INT = datasets.Value("int32")
GOLD = "gold.json"
"""Cache file: the names of gold ids (known tags, then unseen ones) and each split's unseen tag counts."""
FEATURES = datasets.Features(
    {
        "words": datasets.List(_INT),
        "chars": datasets.List(datasets.List(_INT)),
        "case": datasets.List(_INT),
        "tags": datasets.List(_INT),
        "gold": datasets.List(_INT),
        "length": _INT,
        "index": datasets.Value("int64"),
        "tokens": datasets.List(datasets.Value("string")),  # what language models read (lm_inputs.py)
    }
)


def vectors_file(cfg) -> str:
    if not os.path.isfile(cfg.word_vectors):
        raise DataError(f"--data.word_vectors '{cfg.word_vectors}' does not exist.")
    return cfg.word_vectors


@contextlib.contextmanager
def no_bars() -> Iterator[None]:
    """`datasets`' progress bars off for steps that take no time (dropping empty sentences, saving): a bar per split
    and step buried the run's own lines."""
    was_off = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_off:
            datasets.enable_progress_bars()


def locate(cfg, saved: dict[str, str] | None, splits: tuple[str, ...] | None = None):
    """(thunk loading the corpus -> (DatasetDict, from_conll), cache folder path). CoNLL files are only
    parsed when the thunk runs, so finding an existing cache costs a stat of the files.

    `splits`: only these splits (evaluation scores one): other splits' files are not parsed (unless the
    validation split is held out of train) nor encoded, and the entry is a cache entry of its own."""
    found: dict[str, list[str]] = {}
    extensions = () if cfg.format == "hf" else conll.CONLL_EXTENSIONS

    def capture(split_files):
        found.update(split_files)
        return datasets.DatasetDict()

    held = cfg.validation_split is not None or cfg.test_split is not None
    needed = None if held else splits  # a held-out split needs train
    src = resolve_source(
        cfg.path,
        cfg.name,
        cfg.split_files(),
        extensions,
        files_loader=capture,
        splits=needed,
        revision=cfg.revision,
        encoding=cfg.encoding,
    )

    def load() -> tuple[datasets.DatasetDict, bool]:
        dd, from_conll = load_all()
        if splits is None:
            return dd, from_conll
        check_splits(dd, splits)
        return datasets.DatasetDict({s: dd[s] for s in splits}), from_conll

    def load_all() -> tuple[datasets.DatasetDict, bool]:
        # split files (of `splits` only, see resolve_source) are captured here and listed once
        ds = src.load()
        paths = sum(found.values(), [])
        if not found and cfg.format in ("conll", "conllu", "tagged"):
            raise DataError(
                f"--data.format {cfg.format}, but '{cfg.path}' holds no {cfg.format} split files."
            )
        if found and (cfg.format == "hf" or (cfg.format == "auto" and all(hf_builder(f) for f in paths))):
            builder = hf_builder(paths[0]) or "parquet"
            return held_out(load_builder(builder, found, cfg.encoding)), False
        if found:
            return hold_out(
                conll.load_conll_files(found, lambda path: conll.read_split_file(path, cfg)), *holdout
            ), True
        return held_out(ds), False

    def held_out(dd: datasets.DatasetDict) -> datasets.DatasetDict:
        # hold-outs draw sentences: rows of tokens or of documents are made sentences first
        cols = (cfg.tokens_column, cfg.tags_column, cfg.sentence_column)
        return hold_out(checked_columns(dd, *cols), *holdout) if held else dd

    holdout = (cfg.validation_split, cfg.validation_seed, cfg.test_split)

    fields = {k: v for k, v in asdict(cfg).items() if k not in _BATCH_FIELDS}
    vectors = files_fingerprint([vectors_file(cfg)]) if cfg.word_vectors else None
    key = [] if splits is None else [sorted(splits)]  # training's entries keep their names
    name = f"tagging-{fingerprint('tagging-v5', src.fingerprint, fields, saved, vectors, *key)}"
    return load, Path(cfg.cache_dir) / name


def ensure_cache(
    cfg, saved_vocab: TaggingVocab | None, saved: dict[str, str] | None, splits: tuple[str, ...] | None = None
) -> Path:
    """The cache folder (`data/` DatasetDict, words/chars/tags.json, optional vectors.npy, MANIFEST), built
    if missing and rebuilt (with a one-line warning) if damaged; see data_modules/entries.py. `splits` as
    `locate` takes them (a checkpoint's vocabulary is needed to encode fewer than all)."""
    load, final = locate(cfg, saved, splits)

    def build() -> None:
        remove_stale_temporaries(final.parent)
        dd, from_conll = load()
        tmp = temporary_name(final, f".{uuid.uuid4().hex[:8]}.tmp")
        try:
            vocab, encoded, unseen = encode_corpus(cfg, dd, from_conll, saved_vocab, final.name)
            tmp.mkdir(parents=True)
            with no_bars():
                datasets.DatasetDict(encoded).save_to_disk(str(tmp / "data"))
            for name, text in vocab.artifacts().items():
                (tmp / name).write_text(text)
            (tmp / GOLD).write_text(json.dumps({"gold_tags": vocab.gold_tags, "unseen": unseen}))
            if cfg.word_vectors:
                np.save(tmp / "vectors.npy", load_word_vectors(vectors_file(cfg), vocab.words))
            write_manifest(tmp)
            if final.exists():  # a damaged copy: we hold the entry's lock, so nobody reads it now
                shutil.rmtree(final)
            os.rename(tmp, final)
        except OSError as e:
            raise disk_error(final, e) from None
        finally:
            with signals_deferred():
                shutil.rmtree(tmp, ignore_errors=True)

    build_entry(final, build, "encoded tagging corpus")
    return final


def encode_corpus(cfg, dd: datasets.DatasetDict, from_conll: bool, vocab: TaggingVocab | None, key: str):
    """(vocabulary, split -> encoded Dataset with FEATURES, split -> {unseen gold tag: count}); the vocabulary is
    built from train unless given."""
    tok_col, tag_col = ("tokens", "tags") if from_conll else (cfg.tokens_column, cfg.tags_column)
    dd = checked_columns(dd, tok_col, tag_col, None if from_conll else cfg.sentence_column)
    names = {s: tag_names(d, tag_col, cfg.tag_names, s) for s, d in dd.items()}

    def tag_strings(split: str, tags: list) -> list[list[str]]:
        if not names[split]:
            return [[str(t) for t in ts] for ts in tags]
        try:
            return [[names[split][t] for t in ts] for ts in tags]
        except (IndexError, TypeError):
            bad = next(
                t for ts in tags for t in ts if not isinstance(t, int) or not 0 <= t < len(names[split])
            )
            raise DataError(
                f"The {split} split has tag id {bad}, but there are {len(names[split])} tag names."
            ) from None

    # Training (no vocabulary given): every split is needed, and a missing one is reported before any model exists.
    if vocab is None:
        check_splits(dd, ("train", "validation", "test"))
        train_tags = tag_strings("train", list(dd["train"][tag_col]))
        scheme = decide_scheme(train_tags, cfg.scheme)
        vocab = TaggingVocab.build(
            list(dd["train"][tok_col]), train_tags, scheme, cfg.train_scheme, cfg.lowercase, cfg.min_frequency
        )
        how = "detected" if cfg.scheme == "auto" else "given"
        learnt = "as they are (no chunks: token accuracy)" if scheme == "none" else f"in {vocab.train_scheme}"
        log.info("Tags: %d, scheme %s (%s), trained %s", len(vocab.corpus_tags), scheme, how, learnt)

    # Gold tags train never had are scored as misses: they get ids after the known ones (the same on every rank,
    # since every rank reads this cache), and each split's counts are kept for its warning.
    unseen = {s: dict(sorted(vocab.unseen(tag_strings(s, list(d[tag_col]))).items())) for s, d in dd.items()}
    vocab.extend_gold(t for counts in unseen.values() for t in counts)
    unseen = {s: c for s, c in unseen.items() if c}

    def encode(batch: dict, indices: list[int], split: str) -> dict:
        tags = tag_strings(split, batch[tag_col])
        return vocab.encode(batch[tok_col], tags, cfg.max_word_length, split, indices) | {
            "index": indices,
            "tokens": batch[tok_col],
        }

    encoded = {}
    for split, ds in dd.items():
        enc = ds.map(
            encode, fn_kwargs={"split": split}, batched=True, with_indices=True, remove_columns=ds.column_names,
            features=FEATURES, new_fingerprint=f"{key}-{split}", desc=f"Encoding {split}",
            keep_in_memory=True,  # never write map caches next to the user's (possibly read-only) data
        )  # fmt: skip
        # Sentences without tokens hold no tags or chunks, so dropping them changes no metric.
        with no_bars():
            encoded[split] = enc.filter(lambda n: n > 0, input_columns="length", keep_in_memory=True)
        if len(encoded[split]) == 0:
            raise DataError(f"The {split} split is empty: none of its {len(ds)} sentences has a token.")
    check_degenerate(vocab, encoded.get("train"))
    return vocab, encoded, unseen
