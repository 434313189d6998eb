"""Bracketed entity columns, as CoNLL-2012 (OntoNotes 5) writes named entities: `(PERSON*` opens an entity on its
first token, `*)` closes it on its last, `(GPE)` is a one-token entity, `*` is any other token. Such a column is
read as IOB2 tags, so every scheme rule, metric and output works on it as on any IOB2 corpus.

No library reads this column (the OntoNotes scripts that do are not packages), hence this small parser.
"""

from __future__ import annotations

import re

from data_modules.errors import DataError

_BRACKET = re.compile(r"\((?P<type>[^()*\s]+)\*?(?P<close>\))?|\*(?P<end>\))?")


def is_bracketed(tags: list[list[str]]) -> bool:
    """Every tag is a bracket tag (`*`, `*)`, `(TYPE*`, `(TYPE)`, `(TYPE*)`) and there is a tag at all."""
    flat = [t for ts in tags for t in ts]
    return bool(flat) and all(_BRACKET.fullmatch(t) for t in flat)


def bracket_to_iob2(tags: list[str], where: str) -> list[str]:
    """One sentence's bracket tags as IOB2; `where` ("file:line") names the sentence in errors. Entities in this
    column do not nest (OntoNotes' do not): an entity opened inside another, a `*)` that closes nothing and an
    entity still open at the sentence end are errors."""
    out: list[str] = []
    inside = None
    for tag in tags:
        m = _BRACKET.fullmatch(tag)
        if m["type"]:
            if inside:
                raise DataError(f"{where}: entity '({m['type']}' opens inside '({inside}' (nested entities)")
            out.append(f"B-{m['type']}")
            inside = None if m["close"] else m["type"]
        elif inside:
            out.append(f"I-{inside}")
            inside = None if m["end"] else inside
        elif m["end"]:
            raise DataError(f"{where}: '*)' closes no entity")
        else:
            out.append("O")
    if inside:
        raise DataError(f"{where}: entity '({inside}' is not closed before the sentence ends")
    return out
