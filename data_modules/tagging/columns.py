"""The token and tag columns of a tagging corpus: there, not empty, and lists of strings per sentence (rows that
are tokens or documents are made sentences first: table_rows.py)."""

from __future__ import annotations

import logging

import datasets

from data_modules.errors import DataError
from data_modules.tagging.table_rows import documents_as_sentences, is_document_path, tokens_as_sentences

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
        if is_document_path(ds, tok_col):
            ds = documents_as_sentences(ds, tok_col, tag_col, split)
        for col, opt in ((tok_col, "tokens_column"), (tag_col, "tags_column")):
            if col not in ds.column_names:
                raise DataError(
                    f"The {split} split has no column '{col}'; its columns are {ds.column_names}. Set --data.{opt}."
                )
        if len(ds) == 0:
            raise DataError(f"The {split} split is empty: it has no sentences.")
        grouped = tokens_as_sentences(ds, tok_col, tag_col, sentence_col, split)
        if grouped is not None:
            out[split] = grouped
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
