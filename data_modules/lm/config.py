"""`data.*` of the language-modelling task: where the text comes from, how it is tokenized and batched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from data_modules.sources import SourceConfig


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
    reverse: bool = False
    """Model each line right to left (its tokens, or for a char tokenizer its characters, reversed): a backward LM."""
    num_proc: int | None = field(default=None, metadata={"min": 1})
    """Workers that read, count and encode the text (text_files.py, word_pass.py, token_cache.py): threads where the
    work runs in Arrow, processes through `tokenizers`; None = the CPU cores this process may use."""
    holdout_chars: list[int] | None = None
    """Cut the last characters of train's text into the validation and test splits, [validation, test] counts:
    one-file character corpora are split so (text8, enwik8: [5000000, 5000000] leaves 90M characters to train)."""
    mix: dict[str, float] | None = None
    """Several corpora as one, {path: weight}: training blocks drawn in proportion to the weights, validation and
    test all corpora's splits; each corpus has its own cache entries (data_modules/lm/mixture.py). Replaces path."""
