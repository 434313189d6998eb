"""CoNLL column files: one token a line, columns split on tabs or spaces, a blank line between sentences.

`-DOCSTART-` lines (document boundaries in CoNLL-2003) are dropped, and so are comment lines (conll_columns.py
tells them from `#` tokens); which columns hold the words and tags is found there too. CRLF line ends, a UTF-8
BOM and a missing final blank line are read as their clean twins. Every problem is reported with the file and
line it sits on. A tag column of CoNLL-2012 brackets (`(PERSON*`, `*`, `*)`) is read as IOB2 (`brackets.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import datasets

from data_modules.errors import DataError
from data_modules.files import read_text, unpacked_name
from data_modules.tagging import conll_columns, tagged_lines
from data_modules.tagging.brackets import bracket_to_iob2, is_bracketed
from data_modules.tagging.conllu import is_conllu_file, looks_like_conllu, read_conllu

CONLL_EXTENSIONS = ("txt", "conll", "conllu", "conllup", "cupt", "iob", "iob2", "bio", "tsv")
_CONLLU_SUFFIXES = (".conllu", ".conllup", ".cupt")  # CoNLL-U, CoNLL-U Plus, PARSEME's CoNLL-U Plus
# _conll: CoNLL-2012's x.gold_conll, x.v4_auto_conll
_CONLL_SUFFIXES = (".conll", "_conll", ".iob", ".iob2", ".bio", ".tsv")


def read_conll(
    path: str,
    token_index: int | str = "auto",
    tag_index: int | str | None = "auto",
    drop_comments: bool = False,
    encoding: str = "utf-8",
    tags_optional: bool = False,
) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of tokens and their tags (empty lists when `tag_index` is None, or when `tags_optional` and the
    file has no tag column) from one CoNLL file; the indices are numbers or `auto` (conll_columns.py). A tag
    column of CoNLL-2012 brackets is returned as IOB2 tags."""
    sents = conll_columns.sentences(read_text(path, encoding), drop_comments, path)
    token, tag = conll_columns.choose_columns(sents, token_index, tag_index, path, tags_optional)
    sentences = [[r[token] for r in s.rows] for s in sents]
    if tag is None:
        return sentences, [[] for _ in sents]
    tags = [[r[tag] for r in s.rows] for s in sents]
    if is_bracketed(tags):
        tags = [bracket_to_iob2(ts, f"{path}:{s.line}") for ts, s in zip(tags, sents)]
    return sentences, tags


def read_split_file(path: str, cfg) -> tuple[list[list[str]], list[list[str]]]:
    """One split file of a tagging corpus (`cfg`: TaggingDataConfig) as (sentences, tags): CoNLL-U when
    --data.format says so or, under auto, when it is named .conllu or its lines are CoNLL-U; tagged lines
    (`word/TAG` tokens, tagged_lines.py) when they are; CoNLL columns otherwise, except that CoNLL-U content read
    with token column 0 (its IDs) is an error."""
    named = unpacked_name(path).endswith(_CONLLU_SUFFIXES)
    if cfg.format == "conll" and cfg.conll_token_index in (0, "auto") and is_conllu_file(path, cfg.encoding):
        raise DataError(
            f"{path} is CoNLL-U (ten tab-separated columns, IDs first), so its CoNLL column 0 is the IDs, not "
            "the words: set --data.format conllu (or auto), or --data.conll_token_index 1."
        )
    if cfg.format == "conllu" or (cfg.format == "auto" and (named or is_conllu_file(path, cfg.encoding))):
        return read_conllu(path, cfg.conllu_column, cfg.encoding)
    sep = tagged_lines.file_separator(path, cfg.encoding)
    if sep and cfg.format in ("auto", "tagged"):
        return tagged_lines.read_tagged(path, sep, cfg.encoding)
    if sep or cfg.format == "tagged":
        raise DataError(
            f"{path} is one sentence a line of word{sep}TAG tokens, not CoNLL columns: set --data.format tagged "
            "(or auto)."
            if sep
            else f"--data.format tagged, but {path} is not one sentence a line of word/TAG (or word_TAG) tokens."
        )
    return read_conll(path, cfg.conll_token_index, cfg.conll_tag_index, cfg.drop_comments, cfg.encoding)


def load_conll_files(
    files: dict[str, list[str]], read: Callable[[str], tuple[list[list[str]], list[list[str]]]]
) -> datasets.DatasetDict:
    """Split -> CoNLL/CoNLL-U files as a DatasetDict with `tokens` and `tags` (lists of strings) columns;
    `read(path)` gives one file's (sentences, tags)."""
    out = {}
    for split, paths in files.items():
        tokens: list[list[str]] = []
        tags: list[list[str]] = []
        for p in paths:
            s, t = read(p)
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


def conll_reading(text: str, drop_comments: bool) -> tuple[bool, int]:
    """(CoNLL columns fit: every sentence's token lines have one number of columns, the same in every sentence or
    at least 2 in each (CoNLL-2012), and some sentence has several lines, or `-DOCSTART-` is there; the fewest
    columns of a line)."""
    docstart = any(x.strip() and conll_columns.is_docstart(x) for x in text.splitlines())
    try:
        sents = conll_columns.sentences(text, drop_comments)
    except DataError:  # a sentence whose lines differ in columns
        return False, min((len(x.split()) for x in text.splitlines() if x.strip()), default=0)
    every = {len(s.rows[0]) for s in sents}
    fits = len(every) <= 1 or min(every) >= 2
    if docstart:
        return fits, min(every, default=0)
    return fits and len(sents) > 1 and max(len(s.rows) for s in sents) > 1, min(every, default=0)


def choose_format(path: str, text: str, fmt: str = "auto", drop_comments: bool = False) -> str:
    """`conllu`, `conll`, `tagged` or `text` for a prediction input: the format asked for, else from the extension
    and the whole file's column structure (tagged_lines.py for `tagged`); a file that reads as two formats is an error asking for --format."""
    if fmt != "auto":
        return fmt
    conllu = looks_like_conllu(text)
    conll, _ = conll_reading(text, drop_comments)
    name = unpacked_name(path)  # x.conllu.gz is CoNLL-U
    if name.endswith(_CONLLU_SUFFIXES) or (conllu and not name.endswith(_CONLL_SUFFIXES)):
        if not conllu:
            raise DataError(f"{path}: named .conllu but its lines are not tab-separated CoNLL-U columns.")
        return "conllu"
    if name.endswith(_CONLL_SUFFIXES):
        return "conll"
    if conll:
        return "conll"
    if tagged_lines.separator(text):
        return "tagged"
    if (
        any(not x.strip() for x in text.strip().splitlines())
        and len({len(x.split()) for x in text.splitlines() if x.strip()}) == 1
    ):
        raise DataError(
            f"{path} reads both as CoNLL columns (one token a line) and as text (one sentence a line): "
            "say which with --format conll or --format text."
        )
    return "text"


def read_prediction_file(
    path: str,
    fmt: str = "auto",
    token_index: int | str = "auto",
    tag_index: int | str = "auto",
    conllu_column: str | int = "upos",
    drop_comments: bool = False,
    encoding: str = "utf-8",
) -> tuple[list[list[str]], list[list[str]] | None, str]:
    """Sentences to tag, gold tags when the file has them (CoNLL with more than one column, CoNLL-U, tagged lines),
    and the format read. Plain text is one sentence a line, tokens split on whitespace; blank lines are skipped.
    """
    if not Path(path).is_file():
        raise DataError(f"Prediction input '{path}' does not exist.")
    text = read_text(path, encoding)
    fmt = choose_format(path, text, fmt, drop_comments)
    if fmt == "text":
        return [line.split() for line in text.splitlines() if line.strip()], None, fmt
    if fmt == "conllu":
        sentences, gold = read_conllu(path, conllu_column, encoding)
        return sentences, gold, fmt
    if fmt == "tagged":
        sentences, gold = tagged_lines.read_tagged(path, tagged_lines.separator(text) or "/", encoding)
        return sentences, gold, fmt
    _, width = conll_reading(text, drop_comments)
    if width <= 1:
        return read_conll(path, token_index, None, drop_comments, encoding)[0], None, fmt
    sentences, gold = read_conll(path, token_index, tag_index, drop_comments, encoding, tags_optional=True)
    return sentences, (gold if any(gold) else None), fmt
