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
            if col not in ds.column_names and (found := _stand_in(ds, col, tok_col)):
                if split in ("train", next(iter(dd))):
                    log.info(
                        "No column '%s': the %s are column '%s' (--data.%s names it)",
                        col,
                        opt[:-7],
                        found,
                        opt,
                    )
                ds = ds.rename_column(found, col)
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


_TOKEN_NAMES = ("tokens", "words", "token", "word", "forms", "form")
_TAG_NAMES = ("tags", "labels", "ner_tags", "ner", "tag", "label")


def _stand_in(ds: datasets.Dataset, col: str, tok_col: str) -> str | None:
    """The column a recipe's missing token or tag column `col` can only be (`polyglot_ner`'s `words` and `ner`, tner's
    `tags`, GMB's `Word` and `Tag`): of the columns shaped as the tokens are (lists a sentence, or one value a row in
    tables of a token a row), the one named as words are (tokens, words, form) or as tags are (tags, labels, ner).
    None when no column or several could be it (the error then lists the columns)."""
    listed = {c: isinstance(f, (datasets.List, datasets.Sequence, list)) for c, f in ds.features.items()}
    shaped = listed.get(
        tok_col, any(listed.values())
    )  # the tokens' shape, or lists when they are missing too
    same = [c for c in ds.column_names if c != tok_col and listed[c] == shaped]
    if col == tok_col:
        named = [c for c in same if c.lower() in _TOKEN_NAMES]
        return named[0] if len(named) == 1 else None
    if tok_col not in ds.column_names:
        return None
    named = [
        c for c in same if c.lower() in _TAG_NAMES
    ]  # not `pos_tags` for a recipe of `ner_tags`: another task
    return named[0] if len(named) == 1 else None


def _split_strings(batch: dict, columns: list[str]) -> dict:
    return {c: [text.split() for text in batch[c]] for c in columns}
