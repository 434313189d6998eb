"""CoNLL, CoNLL-U and `word/TAG` files given to a language model: their words, one sentence a line.

A folder of CoNLL files (`EU NNP B-NP B-ORG`, one token a line) read as text would train a language model on the
tag columns and on one-word "sentences"; the tagger's own reader gives the words of each sentence instead (the
word column found from the content: tagging/conll_columns.py), so an LM for `--model.lm_embeddings` can be
trained on a tagging corpus' training files as they are. A file is judged by its first 64 KB, as `predict` does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets

from data_modules.errors import DataError
from data_modules.files import open_bytes, read_chunk, unpacked_name
from data_modules.tagging import tagged_lines
from data_modules.tagging.conll import conll_reading, read_conll
from data_modules.tagging.conllu import looks_like_conllu, read_conllu

log = logging.getLogger(__name__)
_HEAD = 1 << 16
_NAMES = {"conllu": "CoNLL-U", "conll": "CoNLL columns", "tagged": "word/TAG lines"}


def column_kind(path: str, encoding: str = "utf-8") -> str | None:
    """`conllu`, `conll` or `tagged` when a file's first 64 KB are CoNLL-U, CoNLL columns (two or more a line,
    one token a line, blank lines between sentences) or tagged lines (`word/TAG` tokens, tagging/tagged_lines.py);
    None for text."""
    with open_bytes(path) as f:
        head = read_chunk(f, path, _HEAD)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    text = text[: text.rfind("\n") + 1] if len(head) == _HEAD else text
    if unpacked_name(path).endswith(".conllu") or looks_like_conllu(text):
        return "conllu"
    fits, width = conll_reading(text, drop_comments=False)
    if fits and width >= 2:
        return "conll"
    return "tagged" if tagged_lines.separator(text) else None


def column_files(found: dict[str, list[str]], encoding: str) -> bool:
    """Whether the split files are CoNLL/CoNLL-U files (all of them), or text (none); both is an error."""
    kinds = {f: column_kind(f, encoding) for paths in found.values() for f in paths}
    if len(set(map(bool, kinds.values()))) > 1:
        columns = sorted(Path(f).name for f, k in kinds.items() if k)
        raise DataError(
            f"Some split files are CoNLL columns ({', '.join(columns[:4])}) and some text: give a language model "
            "files of one kind."
        )
    return any(kinds.values())


def load_words(found: dict[str, list[str]], encoding: str) -> datasets.DatasetDict:
    """Split -> a `text` row a sentence: its words joined by spaces."""
    out = {}
    for split, paths in found.items():
        lines: list[str] = []
        for path in paths:
            kind = column_kind(path, encoding)
            if kind == "conllu":
                sentences = read_conllu(path, None, encoding)[0]
            elif kind == "tagged":
                sentences = tagged_lines.read_tagged(
                    path, tagged_lines.file_separator(path, encoding) or "/", encoding
                )[0]
            else:
                sentences = read_conll(path, "auto", None, encoding=encoding)[0]
            lines += [" ".join(words) for words in sentences]
        out[split] = datasets.Dataset.from_dict({"text": lines})
        log.info("The %s split is %s: %d sentences, read as their words", split, _NAMES[kind], len(lines))
    return datasets.DatasetDict(out)
