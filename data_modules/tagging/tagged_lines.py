"""Tagged lines: one sentence a line, each token `word/TAG` (NLTK's Brown and Penn Treebank samples, most POS
corpora of the 1990s) or `word_TAG` (the Stanford tagger's training files), tokens split on ASCII spaces and tabs.

The tag is what follows the last separator, so `1/2/CD` is the word `1/2` with the tag `CD`. A file is such a file
when the tokens of its first 64 KB (95% of them) carry one separator with text on both sides and its lines differ in tokens
(a CoNLL column file has one count on every line). Read as CoNLL columns such a file was a column-count error; read
as text by a language model, every word carried its tag.
"""

from __future__ import annotations

import re

from data_modules.errors import DataError
from data_modules.files import open_bytes, read_chunk, read_text

SEPARATORS = ("/", "_")
"""In the order they are tried: `/` first (a `word_TAG` file rarely has a slash in every token)."""
_HEAD = 1 << 16
_SPACES = re.compile(
    r"[ \t\r\f\v]+"
)  # ASCII only: a no-break space inside a word stays there, as in CoNLL files


def _tokens(line: str) -> list[str]:
    line = line.strip(" \t\r\f\v")
    return _SPACES.split(line) if line else []


def _pairs_with(tokens: list[str], sep: str) -> bool:
    # 95%, not all: a stray token without its tag is then reported by `read_tagged` with its line, not as CoNLL
    # columns of differing counts.
    return sum(0 < t.rfind(sep) < len(t) - 1 for t in tokens) >= 0.95 * len(tokens)


def separator(text: str) -> str | None:
    """The separator of `text` when it is tagged lines (module docstring); None otherwise."""
    lines = [tokens for tokens in map(_tokens, text.splitlines()) if tokens]
    if len({len(tokens) for tokens in lines}) < 2:
        return None
    every = [t for tokens in lines for t in tokens]
    return next((sep for sep in SEPARATORS if _pairs_with(every, sep)), None)


def file_separator(path: str, encoding: str = "utf-8") -> str | None:
    """`separator` of a file's first 64 KB (whole lines)."""
    with open_bytes(path) as f:
        head = read_chunk(f, path, _HEAD)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    return separator(text[: text.rfind("\n") + 1] if len(head) == _HEAD else text)


def read_tagged(path: str, sep: str, encoding: str = "utf-8") -> tuple[list[list[str]], list[list[str]]]:
    """(sentences, tags) of a file of tagged lines with separator `sep`; a token without `word/TAG` form is an error
    naming its line."""
    text = read_text(path, encoding)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        tokens = _tokens(line)
        if not tokens:
            continue
        bad = next((t for t in tokens if not 0 < t.rfind(sep) < len(t) - 1), None)
        if bad is not None:
            raise DataError(
                f"{path}:{number}: token '{bad}' is not word{sep}TAG, as the file's other tokens are (one sentence "
                "a line, each token its word and tag)."
            )
        split = [t.rpartition(sep) for t in tokens]
        sentences.append([word for word, _, _ in split])
        tags.append([tag for _, _, tag in split])
    return sentences, tags
