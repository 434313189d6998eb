"""The token and tag columns of a tagging corpus: there, not empty, and lists of strings per sentence.

Tables of one token a row (Kaggle's GMB `ner_dataset.csv`: `Sentence #`, `Word`, `Tag`, the sentence number on
each sentence's first row only) are grouped into sentences by their sentence column: `datasets` reads such a
CSV as rows, and read as it is every token would be a sentence of its own.
"""

from __future__ import annotations

import logging
import re

import datasets

from data_modules.errors import DataError

log = logging.getLogger(__name__)


def checked_columns(
    dd: datasets.DatasetDict, tok_col: str, tag_col: str, sentence_col: str | None = None
) -> datasets.DatasetDict:
    """`dd` with its token and tag columns checked: present in every split, which has sentences. A table of one
    token a row is grouped into sentences by `sentence_col` (or its column named like `Sentence #`, `sent_id`).
    A column holding one string a sentence ("EU rejects German", as some JSON and CSV exports write them) is
    split on whitespace: read as a list, a string is its characters (a one-letter token each, a tag per letter)."""
    out = {}
    for split, ds in dd.items():
        for col, opt in ((tok_col, "tokens_column"), (tag_col, "tags_column")):
            if col not in ds.column_names:
                raise DataError(
                    f"The {split} split has no column '{col}'; its columns are {ds.column_names}. Set --data.{opt}."
                )
        if len(ds) == 0:
            raise DataError(f"The {split} split is empty: it has no sentences.")
        if _scalar(ds, tok_col) and _scalar(ds, tag_col) and (sentence_col or _one_token_rows(ds[tok_col])):
            out[split] = _grouped(
                ds, sentence_col or _named_sentence_column(ds, split, tok_col), tok_col, tag_col
            )
            log.info("The %s split holds one token a row: %d sentences", split, len(out[split]))
            continue
        if sentence_col:
            raise DataError(
                f"--data.sentence_column is for tables of one token a row, but the {split} split's '{tok_col}' "
                "holds a sentence a row."
            )
        strings = [c for c in (tok_col, tag_col) if ds.features[c] == datasets.Value("string")]
        if strings:
            log.info(
                "The %s split's %s hold a string a sentence: split on whitespace",
                split,
                " and ".join(strings),
            )
            features = ds.features.copy()
            features.update({c: datasets.List(datasets.Value("string")) for c in strings})
            ds = ds.map(
                _split_strings, fn_kwargs={"columns": strings}, batched=True, features=features,
                keep_in_memory=True, desc=f"Splitting {split} on whitespace",
            )  # fmt: skip
        out[split] = ds
    return datasets.DatasetDict(out)


def _split_strings(batch: dict, columns: list[str]) -> dict:
    return {c: [text.split() for text in batch[c]] for c in columns}


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
