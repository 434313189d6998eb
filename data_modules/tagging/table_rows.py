"""Table rows that are not sentences, made sentences: tables of one token a row, and rows of whole documents.

Kaggle's GMB `ner_dataset.csv` (`Sentence #`, `Word`, `Tag`, the sentence number on each sentence's first row
only) is read by `datasets` as one row a token: grouped by its sentence column, or every token would be a sentence
of its own. The Hub's OntoNotes 5 (`ontonotes/conll2012_ontonotesv5`) holds one row a document, its sentences a
list of structs: `--data.tokens_column sentences.words --data.tags_column sentences.named_entities` names fields
of them, and every document becomes its sentences. `datasets` has neither operation for a column path.
"""

from __future__ import annotations

import logging
import re

import datasets

from data_modules.errors import DataError

log = logging.getLogger(__name__)


def tokens_as_sentences(
    ds: datasets.Dataset, tok_col: str, tag_col: str, sentence_col: str | None, split: str
) -> datasets.Dataset | None:
    """`ds` grouped into sentences when it is a table of one token a row (`sentence_col` given, or every row a
    single token beside a scalar tag); None when its rows are sentences already."""
    if not (_scalar(ds, tok_col) and _scalar(ds, tag_col) and (sentence_col or _one_token_rows(ds[tok_col]))):
        return None
    out = _grouped(ds, sentence_col or _named_sentence_column(ds, split, tok_col), tok_col, tag_col)
    log.info("The %s split holds one token a row: %d sentences", split, len(out))
    return out


def is_document_path(ds: datasets.Dataset, column: str) -> bool:
    """`column` is `outer.field`, no column of its own, with `outer` a column of lists of structs."""
    outer, _, field = column.partition(".")
    feature = ds.features.get(outer)
    return (
        bool(field)
        and column not in ds.column_names
        and isinstance(feature, datasets.List)
        and isinstance(feature.feature, dict)
    )


def documents_as_sentences(ds: datasets.Dataset, tok_col: str, tag_col: str, split: str) -> datasets.Dataset:
    """One row a sentence, from rows of documents whose `outer` column lists sentence structs; the columns are
    named `tok_col` and `tag_col` (`outer.field`) and keep the fields' features (a ClassLabel's names)."""
    outer = tok_col.partition(".")[0]
    fields = ds.features[outer].feature
    names = {}
    for col, opt in ((tok_col, "tokens_column"), (tag_col, "tags_column")):
        top, _, field = col.partition(".")
        if top != outer or field not in fields:
            raise DataError(
                f"--data.{opt} '{col}' is no field of the {split} split's '{outer}' sentences: they have "
                f"{sorted(fields)}; name both columns as {outer}.FIELD."
            )
        names[col] = field
    features = datasets.Features({col: fields[field] for col, field in names.items()})

    def explode(batch: dict) -> dict:
        return {col: [s[field] for doc in batch[outer] for s in doc] for col, field in names.items()}

    out = ds.map(
        explode, batched=True, remove_columns=ds.column_names, features=features, keep_in_memory=True,
        desc=f"Sentences of {split}'s documents",
    )  # fmt: skip
    log.info("The %s split holds documents: %d of them, %d sentences", split, len(ds), len(out))
    return out


def _scalar(ds: datasets.Dataset, column: str) -> bool:
    return isinstance(ds.features[column], (datasets.Value, datasets.ClassLabel))


def _one_token_rows(tokens: list) -> bool:
    """Every row one token (a sentence of one token each would be no tagging corpus)."""
    return len(tokens) > 1 and all(isinstance(t, str) and len(t.split()) == 1 for t in tokens)


def _named_sentence_column(ds: datasets.Dataset, split: str, tok_col: str) -> str:
    named = [c for c in ds.column_names if re.search(r"(?i)(^|[^a-z])sent(ence)?([^a-z]|$)", c)]
    if len(named) != 1:
        raise DataError(
            f"The {split} split holds one token a row ('{tok_col}'), and no one column says where sentences "
            "start: name it with --data.sentence_column (a sentence number on each sentence's first row, or on "
            "every row)."
        )
    return named[0]


def _grouped(ds: datasets.Dataset, sentence_col: str, tok_col: str, tag_col: str) -> datasets.Dataset:
    """One row a sentence: a row whose `sentence_col` is set and differs from the last set value starts one
    (GMB sets it on first rows only and leaves the others empty; other tables repeat an id on every row)."""
    if sentence_col not in ds.column_names:
        raise DataError(
            f"--data.sentence_column '{sentence_col}' is not a column: the columns are {ds.column_names}."
        )
    tokens: list[list] = []
    tags: list[list] = []
    last = None
    for mark, token, tag in zip(ds[sentence_col], ds[tok_col], ds[tag_col]):
        empty = mark is None or mark == "" or mark != mark  # NaN: an empty cell of a numeric column
        if not tokens or (not empty and mark != last):
            tokens.append([])
            tags.append([])
            last = last if empty else mark
        tokens[-1].append(token)
        tags[-1].append(tag)
    features = datasets.Features(
        {tok_col: datasets.List(ds.features[tok_col]), tag_col: datasets.List(ds.features[tag_col])}
    )
    return datasets.Dataset.from_dict({tok_col: tokens, tag_col: tags}, features=features)
