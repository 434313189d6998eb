"""CoNLL column files: one token a line, columns split on whitespace, a blank line between sentences.

`-DOCSTART-` lines (document boundaries in CoNLL-2003) are dropped, and so are `#` comment lines
when asked (CoNLL-U style metadata). Every problem is reported with the file and line it sits on.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from data_modules.errors import DataError
from data_modules.files import read_utf8

CONLL_PATTERNS = ("*.txt", "*.conll", "*.iob", "*.bio")
_CONLL_SUFFIXES = (".conll", ".iob", ".bio")


def _is_docstart(line: str) -> bool:
    return line.split(maxsplit=1)[0] == "-DOCSTART-"


def read_conll(
    path: str, token_index: int = 0, tag_index: int | None = -1, drop_comments: bool = True
) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of tokens and their tags (empty lists when `tag_index` is None) from one CoNLL file.

    Every token line must have as many columns as the file's first token line, and enough for
    `token_index` and `tag_index`.
    """
    needed = max(_needed(token_index), _needed(tag_index))
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    width = None
    for lineno, line in enumerate(read_utf8(path).splitlines(), start=1):
        if not line.strip() or _is_docstart(line):
            if words:
                sentences.append(words)
                tags.append(labels)
                words, labels = [], []
            continue
        if drop_comments and line.lstrip().startswith("#"):
            continue
        cols = line.split()
        width = width or len(cols)
        if len(cols) != width or len(cols) < needed:
            expected = width if len(cols) != width else needed
            raise DataError(f"{path}:{lineno}: expected {expected} columns, found {len(cols)}")
        words.append(cols[token_index])
        if tag_index is not None:
            labels.append(cols[tag_index])
    if words:
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def _needed(index: int | None) -> int:
    """How many columns a line needs so that `index` (negative counts from the end) exists."""
    if index is None:
        return 1
    return index + 1 if index >= 0 else -index


def load_conll_files(
    files: dict[str, list[str]], token_index: int = 0, tag_index: int = -1, drop_comments: bool = True
) -> datasets.DatasetDict:
    """Split -> CoNLL files as a DatasetDict with `tokens` and `tags` (lists of strings) columns."""
    out = {}
    for split, paths in files.items():
        tokens: list[list[str]] = []
        tags: list[list[str]] = []
        for p in paths:
            s, t = read_conll(p, token_index, tag_index, drop_comments)
            tokens.extend(s)
            tags.extend(t)
        features = datasets.Features(
            {
                "tokens": datasets.List(datasets.Value("string")),
                "tags": datasets.List(datasets.Value("string")),
            }
        )
        out[split] = datasets.Dataset.from_dict({"tokens": tokens, "tags": tags}, features=features)
    return datasets.DatasetDict(out)


def looks_like_conll(path: str, text: str) -> bool:
    """CoNLL by suffix or `-DOCSTART-`, or blank-line separated lines that all have the same column count;
    anything else is plain text with one sentence a line."""
    if path.endswith(_CONLL_SUFFIXES):
        return True
    lines = [x for x in text.splitlines() if not x.lstrip().startswith("#")]
    if any(x.strip() and _is_docstart(x) for x in lines):
        return True
    has_blank = any(not x.strip() for x in "\n".join(lines).strip().splitlines())
    widths = {len(x.split()) for x in lines if x.strip()}
    return has_blank and len(widths) == 1


def read_prediction_file(
    path: str, token_index: int = 0, tag_index: int = -1, drop_comments: bool = True
) -> tuple[list[list[str]], list[list[str]] | None]:
    """Sentences to tag, and gold tags when the file is CoNLL with more than one column.

    Plain text is one sentence a line, tokens split on whitespace; blank lines are skipped.
    """
    if not Path(path).is_file():
        raise DataError(f"Prediction input '{path}' does not exist.")
    text = read_utf8(path)
    if not looks_like_conll(path, text):
        return [line.split() for line in text.splitlines() if line.strip()], None
    first = next(
        (x for x in text.splitlines() if x.strip() and not _is_docstart(x) and not x.startswith("#")), ""
    )
    if len(first.split()) <= 1:
        return read_conll(path, token_index, None, drop_comments)[0], None
    sentences, gold = read_conll(path, token_index, tag_index, drop_comments)
    return sentences, gold
