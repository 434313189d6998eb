"""LightningDataModule for language modelling: corpus -> tokenizer -> cached ids -> stream windows."""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from tokenizers import Tokenizer

from data_modules.contract import LMInputs
from data_modules.entries import build_entry, disk_error, entry_damage, manifest_meta, write_manifest
from data_modules.errors import DataError
from data_modules.files import fingerprint, remove_stale_temporaries, temporary_name, write_atomic
from data_modules.holdout import check_splits, hold_out, hold_out_chars
from data_modules.lm import mixture, text_stream, token_cache
from data_modules.lm import tokenizer as toks
from data_modules.lm.config import LMDataConfig
from data_modules.lm.windows import eval_windows, train_windows
from data_modules.lm.word_pass import WordPass
from data_modules.ordered_pool import cores
from data_modules.resumable import ResumableLoader
from data_modules.sources import resolve_source
from data_modules.split_files import SPLITS

log = logging.getLogger(__name__)


class LMDataModule(pl.LightningDataModule):
    """Language-modelling data: `prepare_data` tokenizes once into a cache, `setup` memory-maps it."""

    def __init__(self, cfg: LMDataConfig):
        super().__init__()
        self.cfg = cfg
        self.rank, self.world_size = 0, 1
        self.pin_memory = False
        self.given_tokenizer: Tokenizer | None = None
        self.tokenizer: Tokenizer | None = None
        self.ids: dict[str, np.ndarray] = {}
        self.splits: tuple[str, ...] = SPLITS  # what prepare_data tokenizes and setup maps (see `only`)
        self.cache_checked = False  # the cache entries were found whole (or built) by this process
        self.word_pass: WordPass | None = None  # while prepare_data builds the cache (see there)

    # ---- the pipeline's handles -------------------------------------------------------------
    def set_shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def only(self, split: str) -> None:
        if self.given_tokenizer is None:
            raise RuntimeError("LMDataModule.only needs the checkpoint's tokenizer (load_artifacts) first.")
        self.splits = (split,)

    def load_artifacts(self, artifacts: dict[str, str]) -> None:
        self.given_tokenizer = self.tokenizer = toks.from_json(artifacts["tokenizer.json"])

    def artifacts(self) -> dict[str, str]:
        return {"tokenizer.json": self.tokenizer.to_str(pretty=True)}

    def model_inputs(self) -> LMInputs:
        if self.tokenizer is None:
            raise RuntimeError("LMDataModule: call setup() (or load_artifacts) before model_inputs().")
        return LMInputs(vocab_size=self.tokenizer.get_vocab_size())

    def summary(self) -> dict[str, int]:
        return {f"{s} tokens": self.num_tokens(s) for s in self.splits}

    def fingerprint(self) -> str:
        return self._paths(self._source())[1]["train"].stem

    def num_tokens(self, split: str) -> int:
        return len(self.ids[split])

    @property
    def cache_dir(self) -> str:
        return self.cfg.cache_dir

    # ---- preparation ------------------------------------------------------------------------
    def _settings(self) -> dict:
        """Config fields that change the tokenizer or the ids (batching fields do not)."""
        keep = ("text_column", "tokenizer", "min_frequency", "vocab_size", "skip_empty_lines", "validation_split",
                "validation_seed", "encoding", "reverse")  # fmt: skip
        settings = {k: v for k, v in asdict(self.cfg).items() if k in keep}
        # Only when set: the caches of runs without it keep their keys.
        given = {k: getattr(self.cfg, k) for k in ("holdout_chars", "test_split") if getattr(self.cfg, k)}
        return settings | given

    @property
    def workers(self) -> int:  # `num_proc`, or the cores this process may use
        return self.cfg.num_proc or cores()

    def _source(self):
        c = self.cfg
        if c.mix:
            return mixture.mixed_source(c.mix, c.encoding)
        # held-out splits need train
        held = (c.validation_split, c.test_split, c.holdout_chars)
        read = self.splits if all(h is None for h in held) else None
        return resolve_source(
            c.path,
            c.name,
            c.split_files(),
            encoding=c.encoding,
            num_proc=self.workers,
            splits=read,
            revision=c.revision,
        )

    def _paths(self, source) -> tuple[Path, dict[str, Path], list]:
        """The tokenizer file, the per-split id files and the corpora tokenized (see mixture.id_files)."""
        cache = Path(self.cfg.cache_dir)
        tok = self._fixed_tokenizer()
        tok_key = fingerprint(source.fingerprint, self._settings()) if tok is None else toks.fingerprint(tok)
        ids, tokenized = mixture.id_files(cache, source, tok_key, self._settings())
        return cache / f"tokenizer-{tok_key}.json", ids, tokenized

    def _fixed_tokenizer(self) -> Tokenizer | None:
        if self.given_tokenizer is None and self.cfg.tokenizer_file:
            self.given_tokenizer = toks.load_tokenizer(self.cfg.tokenizer_file)
        return self.given_tokenizer

    def prepare_data(self) -> None:
        """Train the tokenizer and tokenize every split, unless the cache already holds them whole.

        Each file is a cache entry (data_modules/entries.py): checked, built under its own lock, healed."""
        if self.ids or self.cache_checked:
            return  # set up already, or checked already: checksums are not read twice per process
        source = self._source()
        tok_path, id_paths, tokenized = self._paths(source)
        id_paths = {s: id_paths[s] for s in self.splits}
        if all(entry_damage(p) is None for p in (tok_path, *id_paths.values())):
            self.cache_checked = True
            return
        remove_stale_temporaries(self.cfg.cache_dir)

        @functools.cache  # each corpus (one per corpus of a mixture) loaded once, its held-out split always the same
        def corpus(i: int) -> dict:
            c = self.cfg
            loaded = token_cache.named_text_column(tokenized[i][0].load(), c.text_column)
            splits = hold_out(loaded, c.validation_split, c.validation_seed, c.test_split)
            splits = hold_out_chars(splits, c.holdout_chars, c.text_column)
            check_splits(splits, self.splits)
            return splits

        train = [lambda i=i: corpus(i)["train"] for i in range(len(tokenized))]
        # A word vocabulary trained here on one corpus keeps where each word stood (word_pass.py): its training
        # ids are then a lookup, not a second pass over the text. The spill goes as soon as they are written.
        spill = temporary_name(Path(self.cfg.cache_dir) / "word-pass", ".tmp.spill")
        self.word_pass = WordPass(toks.SPECIALS, spill if len(tokenized) == 1 else None)
        try:
            build_entry(
                tok_path,
                lambda: self._write_tokenizer(lambda: mixture.concatenated(train), tok_path),
                "tokenizer",
            )
            tok = self._fixed_tokenizer() or Tokenizer.from_file(str(tok_path))
            for i, (_, paths) in enumerate(tokenized):
                for split, path in [(s, paths[s]) for s in self.splits]:
                    encode = lambda i=i, s=split, p=path: self._encode(corpus(i)[s], s, p, tok)  # noqa: E731
                    build_entry(path, encode, f"{split} token ids")
        finally:
            spill.unlink(missing_ok=True)
            self.word_pass = None
        mixture.build(source, id_paths, tokenized)  # a mixture's own entries, from its corpora's
        self.cache_checked = True

    def _encode(self, ds, split: str, path: Path, tok: Tokenizer) -> None:
        c, eos, n_workers = self.cfg, tok.token_to_id(toks.EOS), self.workers
        lines = text_stream.text_batches(ds, c.text_column)
        spilled = self.word_pass.ids(tok, eos, c.skip_empty_lines, lines, n_workers) if split == "train" else None  # fmt: skip
        n = token_cache.encode_split(
            ds, tok, c.text_column, path, eos, c.skip_empty_lines, n_workers, split, c.reverse, spilled
        )  # fmt: skip
        log.info("Tokenized %s: %d tokens -> %s", split, n, path)

    def _write_tokenizer(self, load_train, tok_path: Path) -> None:
        tok, c = self._fixed_tokenizer(), self.cfg
        if tok is None:
            train = load_train()
            token_cache.check_text_column(train, c.text_column, "train")
            if len(train) == 0:
                raise DataError("The train split is empty: it has no text to model.")
            log.info("Training a %s tokenizer on the training split", c.tokenizer)
            lines = text_stream.text_batches(train, c.text_column)
            tok = toks.train_tokenizer(
                lines, c.tokenizer, c.min_frequency, c.vocab_size, self.word_pass, self.workers
            )
            toks.check_vocabulary(tok, c.min_frequency, c.vocab_size)
        try:
            write_atomic(tok_path, tok.to_str(pretty=True))
            write_manifest(tok_path)
        except OSError as e:
            raise disk_error(tok_path, e) from None

    def setup(self, stage: str | None = None) -> None:
        """Memory-map the cached ids; nothing is tokenized here (unless the cache is missing or damaged)."""
        if self.ids:
            return
        tok_path, id_paths, _ = self._paths(self._source())
        self.prepare_data()  # a no-op when the cache is whole; builds it when setup is used alone
        self.tokenizer = self._fixed_tokenizer() or Tokenizer.from_file(str(tok_path))
        toks.check_vocabulary(self.tokenizer, self.cfg.min_frequency, self.cfg.vocab_size)
        self.ids = {s: token_cache.load_ids(id_paths[s]) for s in self.splits}
        c = self.cfg
        unknown = {s: manifest_meta(id_paths[s]).get("unk") for s in self.splits}  # counted when written
        toks.check_coverage(self.tokenizer, self.ids, self.given_tokenizer is not None, c.min_frequency,
                            c.vocab_size, unknown=unknown)  # fmt: skip
        need = self.cfg.batch_size * self.world_size * (self.cfg.bptt + 1)
        if "train" in self.ids and len(self.ids["train"]) < need:
            raise DataError(
                f"The training split has {len(self.ids['train'])} tokens, fewer than one batch needs "
                f"({self.cfg.batch_size} streams x {self.world_size} ranks x (bptt {self.cfg.bptt} + 1)). "
                "Use more data or lower --data.batch_size / --data.bptt."
            )

    # ---- batches ----------------------------------------------------------------------------
    def _loader(self, windows) -> ResumableLoader:
        # batch_size=None: each dataset item already is a batch (one window of every stream), in order.
        return ResumableLoader(
            windows, batch_size=None, shuffle=False, num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0, pin_memory=self.pin_memory,
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
