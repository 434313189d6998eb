"""LightningDataModule for language modelling: corpus -> tokenizer -> cached ids -> stream windows."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pytorch_lightning as pl
from tokenizers import Tokenizer

from data_modules.contract import LMInputs
from data_modules.errors import DataError
from data_modules.files import fingerprint, write_atomic
from data_modules.lm import token_cache
from data_modules.lm import tokenizer as toks
from data_modules.lm.windows import eval_windows, train_windows
from data_modules.resumable import ResumableLoader
from data_modules.sources import SPLITS, SourceConfig, resolve_source

log = logging.getLogger(__name__)


@dataclass
class LMDataConfig(SourceConfig):
    """Where the text comes from (SourceConfig), how it is tokenized and how it is batched."""

    text_column: str = "text"
    """Column holding the text in a Hugging Face dataset."""
    tokenizer: Literal["word", "bpe", "char"] = "word"
    """Tokenizer trained on the training split: whitespace words, byte-level BPE, or characters."""
    tokenizer_file: str | None = None
    """A tokenizer.json to use instead of training one (must contain `<eos>`)."""
    min_frequency: int = field(default=1, metadata={"min": 1})
    """Words (or BPE merges) seen fewer times in training are not in the vocabulary."""
    vocab_size: int | None = field(default=None, metadata={"min": 3})
    """Largest vocabulary (most frequent entries kept); None = no cap (word, char) or 8192 (bpe)."""
    skip_empty_lines: bool = True
    """Drop blank lines instead of modelling a bare end-of-line token for them."""
    batch_size: int = field(default=20, metadata={"min": 1})
    """Training streams per rank (the classic `batch_size` of LSTM LMs)."""
    eval_batch_size: int = field(default=10, metadata={"min": 1})
    """Evaluation streams in total, shared out among ranks (fixed so results do not depend on world size)."""
    bptt: int = field(default=35, metadata={"min": 1})
    """Tokens per window of truncated backpropagation through time."""
    num_proc: int = field(default=1, metadata={"min": 1})
    """Processes for tokenization (`datasets.map(num_proc=...)`)."""


class LMDataModule(pl.LightningDataModule):
    """Language-modelling data: `prepare_data` tokenizes once into a cache, `setup` memory-maps it."""

    def __init__(self, cfg: LMDataConfig):
        super().__init__()
        self.cfg = cfg
        self.rank, self.world_size = 0, 1
        self.given_tokenizer: Tokenizer | None = None
        self.tokenizer: Tokenizer | None = None
        self.ids: dict[str, np.ndarray] = {}

    # ---- the pipeline's handles -------------------------------------------------------------
    def set_shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def load_artifacts(self, artifacts: dict[str, str]) -> None:
        self.given_tokenizer = self.tokenizer = toks.from_json(artifacts["tokenizer.json"])

    def artifacts(self) -> dict[str, str]:
        return {"tokenizer.json": self.tokenizer.to_str(pretty=True)}

    def model_inputs(self) -> LMInputs:
        if self.tokenizer is None:
            raise RuntimeError("LMDataModule: call setup() (or load_artifacts) before model_inputs().")
        return LMInputs(vocab_size=self.tokenizer.get_vocab_size())

    def summary(self) -> dict[str, int]:
        return {f"{s} tokens": self.num_tokens(s) for s in SPLITS}

    def num_tokens(self, split: str) -> int:
        return len(self.ids[split])

    @property
    def cache_dir(self) -> str:
        return self.cfg.cache_dir

    # ---- preparation ------------------------------------------------------------------------
    def _settings(self) -> dict:
        """Config fields that change the tokenizer or the ids (batching fields do not)."""
        keep = ("text_column", "tokenizer", "min_frequency", "vocab_size", "skip_empty_lines")
        return {k: v for k, v in asdict(self.cfg).items() if k in keep}

    def _source(self):
        return resolve_source(self.cfg.path, self.cfg.name, self.cfg.split_files())

    def _paths(self, source: str) -> tuple[Path, dict[str, Path]]:
        """The tokenizer file and the per-split id files for this source and these settings."""
        cache = Path(self.cfg.cache_dir)
        tok = self._fixed_tokenizer()
        tok_key = fingerprint(source, self._settings()) if tok is None else toks.fingerprint(tok)
        tok_path = cache / f"tokenizer-{tok_key}.json"
        ids = {s: cache / f"ids-{fingerprint(source, s, tok_key, self._settings())}.npy" for s in SPLITS}
        return tok_path, ids

    def _fixed_tokenizer(self) -> Tokenizer | None:
        if self.given_tokenizer is None and self.cfg.tokenizer_file:
            self.given_tokenizer = toks.load_tokenizer(self.cfg.tokenizer_file)
        return self.given_tokenizer

    def prepare_data(self) -> None:
        """Train the tokenizer and tokenize every split, unless the cache already holds them."""
        if self.ids:
            return  # set up already: this process has the cache
        source = self._source()
        tok_path, id_paths = self._paths(source.fingerprint)
        if tok_path.is_file() and all(p.is_file() for p in id_paths.values()):
            return
        tok_path.parent.mkdir(parents=True, exist_ok=True)
        corpus = source.load()
        missing = [s for s in SPLITS if s not in corpus]
        if missing:
            raise DataError(f"The corpus has no {', '.join(missing)} split (it has {', '.join(corpus)}).")
        tok = self._fixed_tokenizer()
        if tok is None and tok_path.is_file():
            tok = Tokenizer.from_file(str(tok_path))
        if tok is None:
            train = corpus["train"]
            if self.cfg.text_column not in train.column_names:
                raise DataError(
                    f"The train split has no text column '{self.cfg.text_column}'; its columns are "
                    f"{train.column_names}. Set --data.text_column."
                )
            if len(train) == 0:
                raise DataError("The train split is empty: it has no text to model.")
            log.info("Training a %s tokenizer on the training split", self.cfg.tokenizer)
            texts = token_cache.arrow_column(train, self.cfg.text_column)
            tok = toks.train_tokenizer(texts, self.cfg.tokenizer, self.cfg.min_frequency, self.cfg.vocab_size)
        if not tok_path.is_file():
            write_atomic(tok_path, tok.to_str(pretty=True))
        eos = tok.token_to_id(toks.EOS)
        for split, path in id_paths.items():
            if not path.is_file():
                n = token_cache.encode_split(
                    corpus[split], tok, self.cfg.text_column, path, eos,
                    self.cfg.skip_empty_lines, self.cfg.num_proc, split,
                )  # fmt: skip
                log.info("Tokenized %s: %d tokens -> %s", split, n, path)

    def setup(self, stage: str | None = None) -> None:
        """Memory-map the cached ids; nothing is tokenized here."""
        if self.ids:
            return
        tok_path, id_paths = self._paths(self._source().fingerprint)
        if not tok_path.is_file() or not all(p.is_file() for p in id_paths.values()):
            self.prepare_data()  # e.g. `setup` called directly, outside a Trainer
        self.tokenizer = self._fixed_tokenizer() or Tokenizer.from_file(str(tok_path))
        self.ids = {s: token_cache.load_ids(p) for s, p in id_paths.items()}
        if self.given_tokenizer is not None:
            self._check_coverage()

    def _check_coverage(self, limit: float = 0.5) -> None:
        """A given tokenizer (a checkpoint's) that maps most of the data to <unk> was made for other data:
        its perplexity would be a number about the wrong corpus, so it is an error, not a result."""
        unk = self.tokenizer.token_to_id(toks.UNK)
        for split, ids in self.ids.items():
            share = float(np.count_nonzero(np.asarray(ids) == unk)) / max(len(ids), 1)
            if share > limit:
                raise DataError(
                    f"The {split} split does not match the tokenizer given (the checkpoint's or --data.tokenizer_file): "
                    f"{share:.0%} of its tokens are unknown to it. Evaluate on data of the kind the model was trained on."
                )

    # ---- batches ----------------------------------------------------------------------------
    def _loader(self, windows) -> ResumableLoader:
        # batch_size=None: each dataset item already is a batch (one window of every stream), in order.
        return ResumableLoader(
            windows, batch_size=None, shuffle=False, num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0,
        )  # fmt: skip

    def train_dataloader(self) -> ResumableLoader:
        try:
            windows = train_windows(
                self.ids["train"], self.cfg.batch_size, self.cfg.bptt, self.rank, self.world_size
            )
        except ValueError as e:
            raise DataError(str(e)) from None
        return self._loader(windows)

    def _eval(self, split: str) -> ResumableLoader:
        eos = self.tokenizer.token_to_id(toks.EOS)
        c = self.cfg
        return self._loader(
            eval_windows(self.ids[split], eos, c.eval_batch_size, c.bptt, self.rank, self.world_size)
        )

    def val_dataloader(self) -> ResumableLoader:
        return self._eval("validation")

    def test_dataloader(self) -> ResumableLoader:
        return self._eval("test")
