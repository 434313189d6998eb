"""The sentences of a CoNLL column file, and which of its columns hold the words and the tags.

Corpora put them in different places: CoNLL-2003 writes `word POS chunk NER` (words first, tags last), the MIT
Movie and Restaurant corpora `tag word`, Universal NER `ID word tag - -` under CoNLL-U comments (`# sent_id = 1`),
GermEval 2014 `ID word outer inner` under a `# source` line. With `auto` (the default of
--data.conll_token_index and --data.conll_tag_index) the columns come from the content: a first column numbering
the words 1, 2, 3, ... in every sentence is skipped, the words are the next column and the tags the last column
that is not a placeholder (`-` or `_` on every line); a word column of nothing but chunk tags (`B-PER`, `O`) beside
a tag column of other values is the tag column (the two are swapped). Explicit indices that contradict the
content (the ID column as words, a placeholder column as tags, tags as words) are one-line errors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from data_modules.errors import DataError

log = logging.getLogger(__name__)
# CoNLL-U comments: `# sent_id = 3`, `# newdoc`
_KEYED = re.compile(r"#\s*(?:[\w.:-]+\s*=|newdoc\b|newpar\b)")
_PLACEHOLDERS = frozenset({"-", "_"})
_CHUNK_TAG = re.compile(r"O|[BIESLMU](?:[-_]\S+)?")
_SAID: set[str] = set()
_ASCII_SPACE = " \t\r\f\v"
_SPACES = re.compile(r"[ \t\r\f\v]+")


@dataclass
class Sentence:
    line: int
    """The line of its first token (1-based), for errors found after reading."""
    rows: list[list[str]]
    """The columns of each token line."""


def is_docstart(line: str) -> bool:
    return line.split(maxsplit=1)[0] == "-DOCSTART-"


def sentences(text: str, drop_comments: bool = False, path: str = "input") -> list[Sentence]:
    """The sentences of CoNLL `text`: blank and `-DOCSTART-` lines end one; every token line of a sentence has as
    many columns as its first (CoNLL-2012 gives each predicate a column, so the count may change between
    sentences). `#` lines are comments when `drop_comments`, when they are CoNLL-U comments (`# key = value`,
    `# newdoc`, `# newpar`), or when they precede a sentence's tokens with another number of columns (GermEval's
    `# http://... [date]`); anywhere else `#` is a token, as in the Penn Treebank's `# # B-NP`."""
    lines = text.splitlines()
    split = _splitter(lines)
    out: list[Sentence] = []
    rows: list[list[str]] = []
    held: list[tuple[int, list[str]]] = []  # `#` lines before the sentence's first other line
    start = 0

    def close() -> None:
        if held:  # a sentence of `#` lines only: tokens, as before comments were told apart
            add(held)
        if rows:
            out.append(Sentence(start, list(rows)))
        rows.clear()
        held.clear()

    def add(lines: list[tuple[int, list[str]]]) -> None:
        nonlocal start
        for lineno, cols in lines:
            if rows and len(cols) != len(rows[0]):
                raise DataError(f"{path}:{lineno}: expected {len(rows[0])} columns, found {len(cols)}")
            start = start if rows else lineno
            rows.append(cols)

    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or is_docstart(line):
            close()
            continue
        if line.lstrip().startswith("#"):
            if drop_comments or _KEYED.match(line.lstrip()):
                continue
            if not rows:
                held.append((lineno, split(line)))
                continue
        cols = split(line)
        if not rows and held:
            add([h for h in held if len(h[1]) == len(cols)])  # the others are comments
            held.clear()
        add([(lineno, cols)])
    close()
    return out


def _splitter(lines: list[str]) -> Callable[[str], list[str]]:
    """How a line splits into columns: on runs of ASCII spaces and tabs (a no-break space inside `10 000` is part of
    the token), or, in a file whose every token line has a tab, on tabs, so that a token with a space (`New York`)
    stays one token; a line of such a file with an empty field (doubled tabs) splits on spaces and tabs."""
    tabbed = all(
        "\t" in x for x in lines if x.strip() and not x.lstrip().startswith("#") and not is_docstart(x)
    )

    def split(line: str) -> list[str]:
        if tabbed:
            cols = [c.strip(_ASCII_SPACE) for c in line.strip(_ASCII_SPACE).split("\t")]
            if all(cols):
                return cols
        return _SPACES.split(line.strip(_ASCII_SPACE))

    return split


def choose_columns(
    sents: list[Sentence],
    token: int | str,
    tag: int | str | None,
    path: str = "input",
    tags_optional: bool = False,
) -> tuple[int, int | None]:
    """(word column, tag column or None) of a file's sentences for the asked indices (`auto` or a number; a tag
    of None reads no tags). `tags_optional`: a file without a tag column gives None (prediction inputs); otherwise
    that is an error."""
    if not sents:
        return (0 if token == "auto" else int(token)), (
            None if tag is None else -1 if tag == "auto" else int(tag)
        )
    width = min(len(s.rows[0]) for s in sents)
    fixed = all(len(s.rows[0]) == width for s in sents)
    ids = width >= 2 and all(
        [r[0] for r in s.rows] == [str(i) for i in range(1, len(s.rows) + 1)] for s in sents
    )

    def values(j: int):
        return (r[j] for s in sents for r in s.rows)

    def placeholder(j: int) -> bool:
        return all(v in _PLACEHOLDERS for v in values(j))

    def chunk_tags(j: int) -> bool:
        return all(_CHUNK_TAG.fullmatch(v) for v in values(j))

    t = (1 if ids else 0) if token == "auto" else int(token)
    _check_index(sents, t, path)
    if ids and t % width == 0:
        raise DataError(
            f"{path}: column {t} numbers the words (1, 2, 3, ...), so it holds no tokens: set "
            "--data.conll_token_index 1 (or auto)."
        )
    if tag is None:
        return t, None
    if tag != "auto":
        g = int(tag)
        _check_index(sents, g, path)
        if placeholder(g):
            raise DataError(
                f"{path}: {_column(g)} is '-' or '_' on every line, so it holds no tags: set --data.conll_tag_index "
                "to the tag column (or auto)."
            )
        if chunk_tags(t) and not chunk_tags(g):
            raise DataError(
                f"{path}: {_column(t)} holds tags (B-..., I-..., O) and {_column(g)} does not: the words and tags "
                f"are swapped; set --data.conll_token_index {g} --data.conll_tag_index {t} (or auto)."
            )
        return t, g
    first = t % width + 1  # the tag column comes after the words
    g = next((j for j in range(width - 1, first - 1, -1) if not placeholder(j - width)), None)
    if g is None:
        if tags_optional:
            return t, None
        raise DataError(
            f"{path} has no tag column: no column after the words (column {t}) holds tags. A file of words alone "
            "cannot be trained on or scored: name the split's tagged file (--data.test_files FILE and so on)."
        )
    if fixed and chunk_tags(t) and not chunk_tags(g):
        t, g = g, t  # MIT Movie's `tag word` lines
    also = [j for j in range(first, g) if fixed and j != t and not placeholder(j) and chunk_tags(j)]
    if (t, g) != (0, width - 1) or also:
        said = f"CoNLL columns: words in column {t}, tags in column {g}"
        if also:  # CoNLL-2003's chunk column beside its NER, GermEval's outer entities beside the inner ones
            said += (
                f"; column {also[-1]} holds chunk tags too (--data.conll_tag_index {also[-1]} trains on it)"
            )
        if said not in _SAID:  # once, not once per file
            _SAID.add(said)
            log.info("%s", said)
    return t, (g if fixed else g - width)  # negative: the last columns, when their number changes


def _check_index(sents: list[Sentence], index: int, path: str) -> None:
    """Every sentence has column `index` (negative counts from the last), or the first that lacks it is an error."""
    needed = index + 1 if index >= 0 else -index
    short = next((s for s in sents if len(s.rows[0]) < needed), None)
    if short is not None:
        raise DataError(f"{path}:{short.line}: expected {needed} columns, found {len(short.rows[0])}")


def _column(index: int) -> str:
    return (
        f"column {index}"
        if index >= 0
        else "the last column"
        if index == -1
        else f"column {index} from the end"
    )
