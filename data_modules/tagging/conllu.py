"""CoNLL-U (Universal Dependencies): one word a line, ten tab-separated columns, `#` comments, blank lines
between sentences.

Only syntactic words are tokens: multi-word token lines (`3-4  don't`, whose parts follow as words 3 and 4)
and empty nodes (`8.1`) are skipped, so the tokens are exactly the FORM column of the word lines.
Predictions are written back as CoNLL-U too (`retag`, `from_tokens`), so UD tools (conll18_ud_eval.py, parsers)
read them. CoNLL-U Plus files (PARSEME's `.cupt`, any `.conllup`) name their own columns on their first line,
`# global.columns = ID FORM UPOS HEAD DEPREL MISC PARSEME:MWE`: they are read (and retagged) by those names.
"""

from __future__ import annotations

import re

from data_modules.errors import DataError
from data_modules.files import open_bytes, read_chunk, read_text

COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_GLOBAL = re.compile(r"#\s*global\.columns\s*=\s*(\S.*)")


def columns_of(text: str) -> tuple[str, ...]:
    """The columns of CoNLL-U `text`, lower-cased: those its first line names (CoNLL-U Plus), else CoNLL-U's ten."""
    m = _GLOBAL.match(text.lstrip("\ufeff").split("\n", 1)[0].strip())
    return tuple(c.lower() for c in m.group(1).split()) if m else COLUMNS


def column_index(column: str | int, columns: tuple[str, ...] = COLUMNS) -> int:
    """`upos` -> 3 (its place in `columns`); a number (or a numeric string) is a 0-based column index."""
    return field(column, columns)[0]


def field(column: str | int, columns: tuple[str, ...] = COLUMNS) -> tuple[int, str | None]:
    """(column index, key): `upos` -> (3, None); `misc:name` -> (9, "name"), the value of `name=` in MISC (NorNE and
    DaNE write their entities there: `name=B-PER|SpaceAfter=No`); a number (or a numeric string) is a 0-based
    column index. A CoNLL-U Plus column named with a colon (`parseme:mwe`) is that column."""
    if isinstance(column, int) or str(column).lstrip("-").isdigit():
        return int(column), None
    name, _, key = str(column).partition(":")
    if str(column).lower() in columns:
        return columns.index(str(column).lower()), None
    if key and name.lower() in columns:
        return columns.index(name.lower()), key
    raise DataError(
        f"Unknown CoNLL-U column '{column}': use one of {', '.join(columns)}, a column index, or misc:KEY for a key "
        "of the MISC column."
    )


def _value(cell: str, key: str | None) -> str:
    """A cell's tag: the cell, or the value of `key=` in it ("O" where the word has no such key: outside)."""
    if key is None:
        return cell
    return next((item[len(key) + 1 :] for item in cell.split("|") if item.startswith(key + "=")), "O")


def _with_value(cell: str, key: str | None, value: str) -> str:
    """`cell` with its tag set to `value`: the whole cell, or `key=value` in place of its old `key=` item."""
    if key is None:
        return value
    items = [item for item in cell.split("|") if item != "_"]
    at = next((i for i, item in enumerate(items) if item.startswith(key + "=")), len(items))
    return "|".join(items[:at] + [f"{key}={value}"] + items[at + 1 :])


def read_conllu(
    path: str, tag_column: str | int | None = "upos", encoding: str = "utf-8"
) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of FORMs and their tags from column `tag_column` (empty lists when None)."""
    text = read_text(path, encoding)
    columns = columns_of(text)
    tag_index, key = (None, None) if tag_column is None else field(tag_column, columns)
    if "form" not in columns:
        raise DataError(f"{path}: its `# global.columns` name no FORM column: {' '.join(columns).upper()}")
    form, ids = columns.index("form"), columns.index("id") if "id" in columns else None
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if words:
                sentences.append(words)
                tags.append(labels)
                words, labels = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != len(columns):
            cols = line.split()  # spaces instead of tabs: accepted when FORMs hold no spaces
        if len(cols) != len(columns):
            raise DataError(
                f"{path}:{lineno}: expected {len(columns)} tab-separated CoNLL-U columns, found {len(cols)}"
            )
        if ids is not None and not _is_word(cols[ids]):
            continue  # a multi-word token's surface form, or an empty node: not a syntactic word
        words.append(cols[form])
        if tag_index is not None:
            labels.append(_value(cols[tag_index], key))
    if words:
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def looks_like_conllu(text: str) -> bool:
    """Every non-comment, non-blank line has the file's columns (CoNLL-U's ten, or those of a CoNLL-U Plus first
    line), tab-separated, and an integer (or range) id where there is an ID column."""
    columns = columns_of(text)
    lines = [x for x in text.splitlines() if x.strip() and not x.startswith("#")]
    if not lines:
        return False
    ids = columns.index("id") if "id" in columns else None
    return all(
        len(c := x.split("\t")) == len(columns)
        and (ids is None or c[ids].replace("-", "").replace(".", "").isdigit())
        for x in lines
    )


def is_conllu_file(path: str, encoding: str = "utf-8", size: int = 1 << 16) -> bool:
    """Whether a file's first lines (64 KB) are CoNLL-U (`looks_like_conllu`; CoNLL-X has the same ten columns): a
    treebank named train.txt is CoNLL-U too, and read as CoNLL columns its ID column would be the tokens."""
    with open_bytes(path) as f:
        head = read_chunk(f, path, size)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    return looks_like_conllu(text[: text.rfind("\n") + 1] if len(head) == size else text)


def output_column(column: str | int, columns: tuple[str, ...] = COLUMNS) -> int:
    """The 0-based column predictions are written into: any but ID and FORM (the sentence itself)."""
    index = column_index(column, columns)
    index = index + len(columns) if index < 0 else index
    if not 0 <= index < len(columns) or columns[index] in ("id", "form"):
        raise DataError(
            f"Predictions cannot be written into CoNLL-U column '{column}' (ID and FORM are the words themselves): "
            "set --data.conllu_column to upos, xpos or another of lemma..misc."
        )
    return index


def _is_word(id_: str) -> bool:
    return "-" not in id_ and "." not in id_


def retag(text: str, predicted: list[list[str]], column: str | int, path: str = "input") -> str:
    """CoNLL-U `text` with column `column` of every word line replaced by `predicted` (per sentence, per word,
    in `read_conllu`'s order); comments, multi-word token lines, empty nodes and the other columns are kept as
    they are. The result ends with the blank line CoNLL-U requires after each sentence."""
    columns = columns_of(text)
    index, key = output_column(column, columns), field(column, columns)[1]
    ids = columns.index("id") if "id" in columns else None
    changed = DataError(f"{path} changed while it was tagged: tag it again.")
    out: list[str] = []
    sentence = word = 0
    for line in [*text.splitlines(), ""]:  # the blank line closes the last sentence
        if not line.strip():
            if word:
                if word != len(predicted[sentence]):
                    raise changed
                sentence, word = sentence + 1, 0
        elif not line.startswith("#"):
            cols = line.split("\t") if len(line.split("\t")) == len(columns) else line.split()
            if ids is None or _is_word(cols[ids]):
                if sentence >= len(predicted) or word >= len(predicted[sentence]):
                    raise changed
                cols[index] = _with_value(cols[index], key, predicted[sentence][word])
                word += 1
                line = "\t".join(cols)
        out.append(line)
    if sentence != len(predicted):
        raise changed
    out.pop()
    if out and out[-1].strip():
        out.append("")
    return "\n".join(out) + "\n" if out else ""


def from_tokens(sentences: list[list[str]], predicted: list[list[str]], column: str | int) -> str:
    """CoNLL-U for sentences that came without it (text, CoNLL columns): `# sent_id` (1, 2, ...) and `# text`
    (the tokens joined by spaces), then ID, FORM and the prediction in column `column`, `_` elsewhere."""
    index, key = output_column(column), field(column)[1]
    out: list[str] = []
    for k, (tokens, tags) in enumerate(zip(sentences, predicted, strict=True), start=1):
        out += [f"# sent_id = {k}", f"# text = {' '.join(tokens)}"]
        for i, (token, tag) in enumerate(zip(tokens, tags, strict=True), start=1):
            cols = [str(i), token] + ["_"] * (len(COLUMNS) - 2)
            cols[index] = _with_value("_", key, tag)
            out.append("\t".join(cols))
        out.append("")
    return "\n".join(out) + "\n" if out else ""
