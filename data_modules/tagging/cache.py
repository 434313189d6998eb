"""The encoded-corpus cache of the tagging data module: load the corpus, build or reuse the vocabulary,
encode every split with `datasets.map`, and write it once under `cache_dir/tagging-<fingerprint>`.

The fingerprint covers the source, every config field that changes the encoding, a reused
vocabulary and the word-vector file, so a stale cache is never served. The folder is written under
a temporary name and renamed, so a crash never leaves a cache that looks complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
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
from data_modules.sources import load_source
from data_modules.tag_schemes import contradictions, scheme_evidence
from data_modules.tagging import conll
from data_modules.tagging.vocab import PAD, UNK, TaggingVocab, load_word_vectors

SPECIALS = (PAD, UNK)

log = logging.getLogger(__name__)
_HF_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}
# Config fields that only change batching, not the cached encoding.
_BATCH_FIELDS = ("batch_size", "eval_batch_size", "bucket", "num_workers", "cache_dir", "seed")
_INT = datasets.Value("int32")
FEATURES = datasets.Features(
    {
        "words": datasets.List(_INT),
        "chars": datasets.List(datasets.List(_INT)),
        "case": datasets.List(_INT),
        "tags": datasets.List(_INT),
        "gold": datasets.List(_INT),
        "length": _INT,
        "index": datasets.Value("int64"),
    }
)


def vectors_file(cfg) -> str:
    if not os.path.isfile(cfg.word_vectors):
        raise DataError(f"--data.word_vectors '{cfg.word_vectors}' does not exist.")
    return cfg.word_vectors


def locate(cfg, saved: dict[str, str] | None):
    """(thunk loading the corpus -> (DatasetDict, from_conll), cache folder path). CoNLL files are only
    parsed when the thunk runs, so finding an existing cache costs a stat of the files."""
    found: dict[str, list[str]] = {}
    patterns = () if cfg.format == "hf" else conll.CONLL_PATTERNS

    def capture(split_files):
        found.update(split_files)
        return datasets.DatasetDict()

    ds, source_fp = load_source(cfg.path, cfg.name, cfg.split_files(), patterns, files_loader=capture)

    def load() -> tuple[datasets.DatasetDict, bool]:
        paths = sum(found.values(), [])
        if not found and cfg.format == "conll":
            raise DataError(f"--data.format conll, but '{cfg.path}' holds no CoNLL split files.")
        if found and (
            cfg.format == "hf"
            or (cfg.format == "auto" and all(Path(f).suffix in _HF_BUILDERS for f in paths))
        ):
            builder = _HF_BUILDERS.get(Path(paths[0]).suffix, "parquet")
            return datasets.load_dataset(builder, data_files=found), False
        if found:
            return conll.load_conll_files(
                found, cfg.conll_token_index, cfg.conll_tag_index, cfg.drop_comments
            ), True
        return ds, False

    fields = {k: v for k, v in asdict(cfg).items() if k not in _BATCH_FIELDS}
    vectors = files_fingerprint([vectors_file(cfg)]) if cfg.word_vectors else None
    name = f"tagging-{fingerprint('tagging-v1', source_fp, fields, saved, vectors)}"
    return load, Path(cfg.cache_dir) / name


def ensure_cache(cfg, saved_vocab: TaggingVocab | None, saved: dict[str, str] | None) -> Path:
    """The cache folder (`data/` DatasetDict, words/chars/tags.json, optional vectors.npy, MANIFEST), built
    if missing and rebuilt (with a one-line warning) if damaged; see data_modules/entries.py."""
    load, final = locate(cfg, saved)

    def build() -> None:
        remove_stale_temporaries(final.parent)
        dd, from_conll = load()
        tmp = temporary_name(final, f".{uuid.uuid4().hex[:8]}.tmp")
        try:
            vocab, encoded = encode_corpus(cfg, dd, from_conll, saved_vocab, final.name)
            tmp.mkdir(parents=True)
            datasets.DatasetDict(encoded).save_to_disk(str(tmp / "data"))
            for name, text in vocab.artifacts().items():
                (tmp / name).write_text(text)
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
    """(vocabulary, split -> encoded Dataset with FEATURES); the vocabulary is built from train unless given."""
    tok_col, tag_col = ("tokens", "tags") if from_conll else (cfg.tokens_column, cfg.tags_column)
    for split, ds in dd.items():
        for col, opt in ((tok_col, "tokens_column"), (tag_col, "tags_column")):
            if col not in ds.column_names:
                raise DataError(
                    f"The {split} split has no column '{col}'; its columns are {ds.column_names}. Set --data.{opt}."
                )
        if len(ds) == 0:
            raise DataError(f"The {split} split is empty: it has no sentences.")
    # ClassLabel tag columns store ids; their names are the tags.
    names = {s: getattr(getattr(d.features[tag_col], "feature", None), "names", None) for s, d in dd.items()}

    def tag_strings(split: str, tags: list) -> list[list[str]]:
        return [[names[split][t] if names[split] else str(t) for t in ts] for ts in tags]

    if vocab is None:
        if "train" not in dd:
            raise DataError(
                f"The corpus has no train split to build the vocabulary from; splits: {list(dd)}."
            )
        train_tags = tag_strings("train", list(dd["train"][tag_col]))
        scheme = decide_scheme(train_tags, cfg.scheme)
        vocab = TaggingVocab.build(
            list(dd["train"][tok_col]), train_tags, scheme, cfg.train_scheme, cfg.lowercase, cfg.min_frequency
        )

    def encode(batch: dict, indices: list[int], split: str) -> dict:
        tags = tag_strings(split, batch[tag_col])
        return vocab.encode(batch[tok_col], tags, cfg.max_word_length, split, indices) | {"index": indices}

    encoded = {}
    for split, ds in dd.items():
        enc = ds.map(
            encode, fn_kwargs={"split": split}, batched=True, with_indices=True, remove_columns=ds.column_names,
            features=FEATURES, new_fingerprint=f"{key}-{split}", desc=f"Encoding {split}",
            keep_in_memory=True,  # never write map caches next to the user's (possibly read-only) data
        )  # fmt: skip
        # Sentences without tokens hold no tags or chunks, so dropping them changes no metric.
        encoded[split] = enc.filter(lambda n: n > 0, input_columns="length", keep_in_memory=True)
        if len(encoded[split]) == 0:
            raise DataError(f"The {split} split is empty: none of its {len(ds)} sentences has a token.")
    check_degenerate(vocab, encoded.get("train"))
    return vocab, encoded


def decide_scheme(train_tags: list[list[str]], wanted: str, limit: float = 0.05) -> str:
    """The scheme the training tags support ('auto') or the one given; tags contradicting it are named with
    counts in a warning, or refused when they are more than `limit` of the chunk tags."""
    scheme, against, total = scheme_evidence(train_tags)
    if wanted != "auto":
        scheme, against = wanted, (contradictions(train_tags)[wanted] if wanted != "none" else {})
    if not against:
        return scheme
    n = sum(against.values())
    listed = ", ".join(f"{t} x{c}" for t, c in sorted(against.items(), key=lambda kv: -kv[1])[:8])
    if n > limit * total:
        raise DataError(
            f"The training tags do not follow one scheme: {n} of {total} chunk tags contradict {scheme} ({listed}). "
            "Fix the tags, or set --data.scheme to the corpus' scheme."
        )
    log.warning(
        "%d training tag(s) contradict the %s scheme and are read as conlleval reads them: %s",
        n,
        scheme,
        listed,
    )
    return scheme


def check_degenerate(vocab: TaggingVocab, train: datasets.Dataset | None) -> None:
    """A word vocabulary of only special tokens, or one that leaves most training words <unk>, trains a model
    of nothing: an error, not a result."""
    if vocab.from_checkpoint or train is None:
        return
    specials = len(SPECIALS)
    if vocab.words.get_vocab_size() <= specials:
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
