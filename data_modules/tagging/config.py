"""`data.*` of the tagging task: where the sentences come from, how they are read, encoded and batched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from data_modules.sources import SourceConfig


@dataclass
class TaggingDataConfig(SourceConfig):
    """Where the sentences come from (SourceConfig), how they are read, encoded and batched."""

    format: Literal["auto", "conll", "conllu", "tagged", "hf"] = "auto"
    """How to read files: CoNLL columns, CoNLL-U, tagged lines (a sentence a line of `word/TAG` or `word_TAG`
    tokens), HF data files (parquet/json/csv/arrow), or from names and content (auto: *.conllu and CoNLL-U content
    are CoNLL-U, parquet/json/csv/arrow are HF files, tagged lines are tagged lines, anything else CoNLL columns)."""
    tokens_column: str = "tokens"
    """HF column with the list of tokens of a sentence."""
    tags_column: str = "ner_tags"
    """HF column with the tags (ClassLabel ids or strings)."""
    sentence_column: str | None = None
    """Tables of one token a row (Kaggle's GMB `ner_dataset.csv`: `Sentence #`, `Word`, `Tag`): the column that
    starts sentences, set on each sentence's first row (the rest empty) or an id on every row. Unset, the one column
    named like `Sentence #` or `sent_id` is used when every row holds one token."""
    tag_names: list[str] | None = None
    """Names of integer tags without a ClassLabel (id i is tag_names[i]), e.g. [O, B-PER, I-PER]: JSON, CSV or
    Parquet files of ids. Without names such tags are read as '0', '1', ...: no chunks, so no span F1."""
    conll_token_index: int | Literal["auto"] = "auto"
    """CoNLL column holding the token; auto: the first, or the second when the first numbers the words (1, 2, 3)."""
    conll_tag_index: int | Literal["auto"] = "auto"
    """CoNLL column holding the tag (negative counts from the last column); auto: the last that is not '-' or '_'
    on every line (a word column of chunk tags beside a tag column of words is swapped: MIT Movie's `tag word`)."""
    conllu_column: str = "upos"
    """CoNLL-U column holding the tag: upos, xpos, deprel, ... or a 0-based column index ("3"); `misc:KEY`, the value
    of KEY in the MISC column (NorNE's and DaNE's entities: misc:name; a word without it is O); in a CoNLL-U Plus
    file, any column its `# global.columns` line names (parseme:mwe)."""
    drop_comments: bool = False
    """Drop every CoNLL line starting with '#'. Without it, CoNLL-U style comments (`# sent_id = 1`) and `#` lines
    before a sentence with another number of columns are dropped, and `#` is a token elsewhere."""
    scheme: Literal["auto", "iob1", "iob2", "bioes", "bilou", "bmes", "ioe1", "ioe2", "io", "none"] = "auto"
    """Tag scheme of the corpus; 'auto' detects it from the training split (all but io); 'none' for POS-like tags;
    'io' for entity types without prefixes (PER, LOC, O: a run of one type is one chunk)."""
    train_scheme: Literal["same", "bioes"] = "same"
    """Tag scheme the model is trained in; predictions are converted back to the corpus scheme."""
    lowercase: bool = False
    """Lower-case words for the word vocabulary (characters keep their case)."""
    min_frequency: int = field(default=1, metadata={"min": 1})
    """Training-split words rarer than this map to <unk>."""
    max_word_length: int = field(default=50, metadata={"min": 1})
    """Characters kept per word for the character encoder."""
    word_vectors: str | None = None
    """GloVe-format text file; vocabulary words found there initialise the word embeddings."""
    batch_size: int = field(default=32, metadata={"min": 1})
    """Training batch size in sentences (per rank)."""
    eval_batch_size: int = field(default=128, metadata={"min": 1})
    """Evaluation/prediction batch size in sentences (per rank)."""
    max_tokens_per_batch: int | None = field(default=None, metadata={"min": 1})
    """Also cap every batch (training and evaluation) at this many padded tokens (sentences x longest): a batch
    holds as many sentences as fit, at least one, so memory does not grow with the longest sentence."""
    bucket: bool = True
    """Batch sentences of similar length together (less padding); training order stays random."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of the training shuffle (the epoch number is added every epoch)."""
