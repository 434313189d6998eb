"""CoNLL-U (Universal Dependencies): one word a line, ten tab-separated columns, `#` comments, blank lines
between sentences.

Only syntactic words are tokens: multi-word token lines (`3-4  don't`, whose parts follow as words 3 and 4)
and empty nodes (`8.1`) are skipped, so the tokens are exactly the FORM column of the word lines.
"""

from __future__ import annotations

from data_modules.errors import DataError
from data_modules.files import read_text

COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


def column_index(column: str | int) -> int:
    """`upos` -> 3; a number (or a numeric string) is a 0-based column index."""
    if isinstance(column, int) or str(column).lstrip("-").isdigit():
        return int(column)
    try:
        return COLUMNS.index(str(column).lower())
    except ValueError:
        raise DataError(
            f"Unknown CoNLL-U column '{column}': use one of {', '.join(COLUMNS)} or a column index."
        ) from None


def read_conllu(
    path: str, tag_column: str | int | None = "upos", encoding: str = "utf-8"
) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of FORMs and their tags from column `tag_column` (empty lists when None)."""
    tag_index = None if tag_column is None else column_index(tag_column)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    for lineno, line in enumerate(read_text(path, encoding).splitlines(), start=1):
        if not line.strip():
            if words:
                sentences.append(words)
                tags.append(labels)
                words, labels = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != len(COLUMNS):
            cols = line.split()  # spaces instead of tabs: accepted when FORMs hold no spaces
        if len(cols) != len(COLUMNS):
            raise DataError(f"{path}:{lineno}: expected 10 tab-separated CoNLL-U columns, found {len(cols)}")
        if "-" in cols[0] or "." in cols[0]:
            continue  # a multi-word token's surface form, or an empty node: not a syntactic word
        words.append(cols[1])
        if tag_index is not None:
            labels.append(cols[tag_index])
    if words:
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def looks_like_conllu(text: str) -> bool:
    """Every non-comment, non-blank line has ten tab-separated columns and an integer (or range) id first."""
    lines = [x for x in text.splitlines() if x.strip() and not x.startswith("#")]
    if not lines:
        return False
    return all(
        len(c := x.split("\t")) == 10 and c[0].replace("-", "").replace(".", "").isdigit() for x in lines
    )
