"""Plain text for the tagger's language models, from the CoNLL-2003 TRAINING split only (never dev or test), plus
Brown's training text if asked: one sentence a line, tokens joined by single spaces (the string the tagger's char
LMs read, models/lm_features.py). A few training documents are held out as valid/test, for bits per character.

    python -m benchmarks.lm_text --conll ../shared/data/conll2003 --out lm_text [--brown ../shared/data/brown]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def conll_documents(path: Path) -> list[list[str]]:
    """The file's documents (split at -DOCSTART-), each a list of sentences as space-joined tokens."""
    docs: list[list[str]] = [[]]
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        parts = line.split()
        if parts and parts[0] == "-DOCSTART-":
            docs.append([])
        elif parts:
            words.append(parts[0])
        elif words:
            docs[-1].append(" ".join(words))
            words = []
    return [d for d in docs if d]


def write(conll: Path, out: Path, brown: Path | None = None, held_out_every: int = 20) -> dict[str, int]:
    """train.txt, valid.txt, test.txt under `out`: every `held_out_every`-th training document goes to valid,
    the next one to test; the rest (and Brown's train.txt) to train. Returns lines per file."""
    docs = conll_documents(conll / "train.txt")
    split: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for i, doc in enumerate(docs):
        name = "valid" if i % held_out_every == 0 else "test" if i % held_out_every == 1 else "train"
        split[name].extend(doc)
    if brown is not None:
        split["train"].extend(brown.joinpath("train.txt").read_text(encoding="utf-8").splitlines())
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in split.items():
        (out / f"{name}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return {name: len(lines) for name, lines in split.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conll", type=Path, required=True, help="folder with CoNLL-2003 train.txt")
    p.add_argument("--out", type=Path, required=True, help="folder to write train/valid/test.txt into")
    p.add_argument(
        "--brown", type=Path, default=None, help="folder with Brown's train.txt, appended to train"
    )
    args = p.parse_args()
    print(write(args.conll, args.out, args.brown))


if __name__ == "__main__":
    main()
