"""Sequence-tagging data: CoNLL files or HF token-classification corpora -> cached id lists -> padded batches.

`prepare_data` loads the corpus, builds (or reuses saved) vocabularies from the training split,
encodes every split with `datasets.map` and writes it under `cache_dir/tagging-<fingerprint>`;
`setup` memory-maps that cache on every rank, so nothing is parsed or encoded twice.
"""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from data_modules.contract import TaggerInputs
from data_modules.errors import DataError
from data_modules.holdout import check_splits
from data_modules.resumable import ResumableLoader
from data_modules.tagging import conll
from data_modules.tagging.batches import EvalBatchSampler, PackedSentences, TrainBatchSampler, whole_batch
from data_modules.tagging.cache import GOLD, ensure_cache, locate, vectors_file
from data_modules.tagging.checks import check_coverage, warn_unseen
from data_modules.tagging.config import TaggingDataConfig
from data_modules.tagging.lm_inputs import LM_SPECS, FeatureFn, cached_features
from data_modules.tagging.lm_inputs import check_coverage as check_lm_coverage
from data_modules.tagging.vectors import load_word_vectors
from data_modules.tagging.vocab import ARTIFACTS, NUM_CASE_CLASSES, UNK, TaggingVocab


class TaggingDataModule(pl.LightningDataModule):
    """Batches (see data_modules.tagging.batches.PackedSentences.batch): words/case/tags/gold/mask (B, L), chars (B, L, C), index (B,)."""

    def __init__(self, cfg: TaggingDataConfig):
        super().__init__()
        self.cfg = cfg
        self.vocab: TaggingVocab | None = None
        self.word_vectors: torch.Tensor | None = None
        self.train_sampler: TrainBatchSampler | None = None
        self._saved: dict[str, str] | None = None
        self._splits: dict[str, PackedSentences] = {}
        self._predict: list[list[str]] | None = None
        self._rank, self._world = 0, 1
        self.pin_memory = False
        self.lm_specs: list[dict] = []  # the tagger's language models (models/lm_features.py), in order
        self._path, self._data = None, None
        self._only: str | None = None  # the one split setup keeps (`only`)

    def load_artifacts(self, artifacts: dict[str, str]) -> None:
        self._saved = {k: artifacts[k] for k in ARTIFACTS if k in artifacts}
        self.vocab = TaggingVocab.from_artifacts(self._saved)
        self.lm_specs = json.loads(artifacts.get(LM_SPECS, "[]"))

    def only(self, split: str) -> None:
        self._only = split

    def _predict_only(self) -> bool:
        return self._predict is not None and self._saved is not None

    def prepare_data(self) -> None:
        if self._splits:
            return  # set up already: this process has the cache
        if not self._predict_only():  # tagging a file with a checkpoint's vocabulary needs no corpus
            ensure_cache(*self._cache_args())

    def _cache_args(self) -> tuple:
        """`ensure_cache`'s arguments: a checkpoint's vocabulary, and the one split to encode (`only`) when set."""
        only = (self._only,) if self._only is not None and self._saved is not None else None
        return self.cfg, self.vocab if self._saved else None, self._saved, only

    def setup(self, stage: str | None = None) -> None:
        if self._predict_only():
            if self.cfg.word_vectors and self.word_vectors is None:
                self.word_vectors = torch.from_numpy(
                    load_word_vectors(vectors_file(self.cfg), self.vocab.words)
                )
            return
        if self._splits:
            return  # set up already: every stage reads the same splits
        # Normally a lookup (prepare_data built it); builds it when setup is used alone.
        path = ensure_cache(*self._cache_args())
        self.vocab = TaggingVocab.from_artifacts({k: (path / k).read_text() for k in ARTIFACTS})
        self.vocab.from_checkpoint = self._saved is not None
        gold = json.loads((path / GOLD).read_text())
        self.vocab.extend_gold(gold["gold_tags"][len(self.vocab.corpus_tags) :])
        self._path, self._data = path, datasets.load_from_disk(str(path / "data"))
        if self._only is not None:
            check_splits(self._data, (self._only,))
        kept = {s: ds for s, ds in self._data.items() if self._only in (None, s)}
        self._splits = {split: PackedSentences.from_arrow(ds) for split, ds in kept.items()}
        warn_unseen(gold["unseen"])
        if self._saved is not None:
            check_coverage(self.vocab, self._splits)
        if (path / "vectors.npy").is_file():
            self.word_vectors = torch.from_numpy(np.load(path / "vectors.npy"))

    @property
    def gold_tags(self) -> list[str]:
        """Names of the gold ids in batches: the corpus tags, then tags of these splits that train never had."""
        return self._vocab().gold_tags

    # ---- what the pipeline and model read -------------------------------------------------------------
    def _vocab(self) -> TaggingVocab:
        if self.vocab is None:
            raise RuntimeError(
                "TaggingDataModule: call prepare_data() and setup() (or load_artifacts) first."
            )
        return self.vocab

    def fingerprint(self) -> str:
        cfg, _, saved, only = self._cache_args()
        return (self._path or locate(cfg, saved, only)[1]).name

    def artifacts(self) -> dict[str, str]:
        return self._vocab().artifacts() | ({LM_SPECS: json.dumps(self.lm_specs)} if self.lm_specs else {})

    def use_lms(self, fn: FeatureFn, finetune: bool) -> None:
        """Serve `lm_specs`' features, frozen (`fn`, cached once per split), or with `finetune` the LMs' inputs."""
        for split, packed in self._splits.items():
            tokens = self._data[split]["tokens"]
            check_lm_coverage(tokens, self.lm_specs, split)
            if finetune:
                packed.lm_sentences = (tokens, self.lm_specs)
            else:
                packed.features = cached_features(self._path, split, tokens, self.lm_specs, fn)

    def model_inputs(self) -> TaggerInputs:
        vocab = self._vocab()
        return TaggerInputs(
            word_vocab_size=vocab.words.get_vocab_size(), char_vocab_size=vocab.chars.get_vocab_size(),
            train_tags=tuple(vocab.train_tags), corpus_tags=tuple(vocab.corpus_tags),
            train_scheme=vocab.train_scheme, corpus_scheme=vocab.corpus_scheme,
            unk_id=vocab.words.token_to_id(UNK), num_case_classes=NUM_CASE_CLASSES,
            word_vectors=self.word_vectors, lm_specs=tuple(self.lm_specs),
        )  # fmt: skip

    def summary(self) -> dict[str, int]:
        inputs = self.model_inputs()
        counts = {f"{s} sentences": len(d.lengths) for s, d in self._splits.items()}
        return counts | {"words": inputs.word_vocab_size, "chars": inputs.char_vocab_size,
                         "tags": len(inputs.train_tags)}  # fmt: skip

    @property
    def cache_dir(self) -> str:
        return self.cfg.cache_dir

    # ---- batches ----------------------------------------------------------------------------------
    def set_shard(self, rank: int, world_size: int) -> None:
        self._rank, self._world = rank, world_size
        if self.train_sampler is not None:
            self.train_sampler.set_shard(rank, world_size)

    def _split(self, split: str) -> PackedSentences:
        if split not in self._splits:
            raise DataError(
                f"The corpus has no {split} split; it has {sorted(self._splits) or 'none loaded'}."
            )
        return self._splits[split]

    def _loader(self, data, sampler) -> DataLoader:
        sampler.set_shard(self._rank, self._world)
        return ResumableLoader(
            data, batch_sampler=sampler, collate_fn=whole_batch, num_workers=self.cfg.num_workers,
            pin_memory=self.pin_memory,
        )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        ds = self._split("train")
        if self.train_sampler is None:
            self.train_sampler = TrainBatchSampler(
                ds.lengths, self.cfg.batch_size, self.cfg.seed, self.cfg.bucket, self.cfg.max_tokens_per_batch
            )
        return self._loader(ds, self.train_sampler)

    def _eval_loader(self, split: str) -> DataLoader:
        ds = self._split(split)
        c = self.cfg
        return self._loader(
            ds, EvalBatchSampler(ds.lengths, c.eval_batch_size, c.bucket, c.max_tokens_per_batch)
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    # ---- prediction -------------------------------------------------------------------------------
    def read_prediction_file(
        self, path: str, fmt: str = "auto"
    ) -> tuple[list[list[str]], list[list[str]] | None, str]:
        """(sentences, gold tags or None, the format read: conll, conllu or text)."""
        c = self.cfg
        return conll.read_prediction_file(
            path, fmt, c.conll_token_index, c.conll_tag_index, c.conllu_column, c.drop_comments, c.encoding
        )

    def set_predict_sentences(self, sentences: list[list[str]]) -> None:
        """Sentences `predict_dataloader` serves; a batch's `index` is the position in this list."""
        for i, s in enumerate(sentences):
            if not s:
                raise DataError(f"Prediction sentence {i + 1} is empty.")
        self._predict = [list(s) for s in sentences]

    def predict_dataloader(self) -> DataLoader:
        if self._predict is None:
            raise DataError("No sentences to predict: call set_predict_sentences() first.")
        sents = self._predict
        enc = self._vocab().encode(sents, None, self.cfg.max_word_length, "predict", list(range(len(sents))))
        data = PackedSentences.from_lists(enc, list(range(len(sents))))
        data.lm_sentences = (sents, self.lm_specs) if self.lm_specs else None  # the model runs its LMs
        c = self.cfg
        return self._loader(
            data, EvalBatchSampler(data.lengths, c.eval_batch_size, False, c.max_tokens_per_batch)
        )
