"""CoNLL-2012 (OntoNotes 5) files by the recipe alone: a tree of *.gold_conll documents whose named-entity column is
in brackets and whose column count changes between sentences, read as IOB2; the *_auto_conll files beside them
are not read; training, evaluation and prediction end to end, scored as seqeval scores the IOB2 it reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from seqeval.metrics import f1_score

from data_modules.errors import DataError
from data_modules.tag_schemes import chunks
from data_modules.tagging.conll import choose_format, read_conll
from pipeline.__main__ import main
from tests.conftest import CONF

NAMES = {"PERSON": ["John", "Mary", "Chen"], "GPE": ["China", "Paris", "Texas"], "ORG": ["IBM", "Reuters"]}
FILLER = ["said", "the", "in", "visited", "today", "and", "a", "report", "on"]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    """(word, IOB2 tag) pairs: filler words and entities of one to three words, some touching."""
    out: list[tuple[str, str]] = []
    while len(out) < rng.randint(4, 12):
        if rng.random() < 0.4:
            type_ = rng.choice(sorted(NAMES))
            words = [rng.choice(NAMES[type_]) for _ in range(rng.randint(1, 3))]
            out += [(w, f"{'B' if i == 0 else 'I'}-{type_}") for i, w in enumerate(words)]
        else:
            out.append((rng.choice(FILLER), "O"))
    return out


def brackets(tags: list[str]) -> list[str]:
    """IOB2 -> CoNLL-2012 bracket column, written from the chunks (the oracle goes the other way round)."""
    out = ["*"] * len(tags)
    for type_, start, end in chunks(tags):
        out[start] = f"({type_}" + (")" if end - start == 1 else "*")
        if end - start > 1:
            out[end - 1] = "*)"
    return out


def document(rng: random.Random, doc: str, sents: list[list[tuple[str, str]]], entities: bool = True) -> str:
    lines = [f"#begin document ({doc}); part 000"]
    for s in sents:
        predicates = rng.randint(0, 2)  # one argument column per predicate: widths differ between sentences
        ne = brackets([t for _, t in s]) if entities else ["*"] * len(s)
        for i, ((word, _), tag) in enumerate(zip(s, ne)):
            cols = [
                doc,
                "0",
                str(i),
                word,
                "NN",
                "*",
                "-",
                "-",
                "-",
                "Speaker#1",
                tag,
                *["*"] * predicates,
                "-",
            ]
            lines.append("   ".join(cols))
        lines.append("")
    return "\n".join(lines + ["#end document", ""])


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict[str, list[list[tuple[str, str]]]]]:
    """conll-2012/v4/data/<split>/data/english/annotations/nw/<source>/00/*.gold_conll, with an *_auto_conll twin
    of every file whose entity column is empty (were it read, every entity would be counted wrong)."""
    root = tmp_path_factory.mktemp("ontonotes")
    rng = random.Random(12)
    gold: dict[str, list[tuple[str, list[list[tuple[str, str]]]]]] = {}
    for split, docs in (("train", 6), ("development", 2), ("test", 2)):
        gold[split] = []
        for d in range(docs):
            source = "wsj" if d % 2 else "xinhua"
            folder = root / f"conll-2012/v4/data/{split}/data/english/annotations/nw/{source}/0{d}"
            folder.mkdir(parents=True)
            sents = [sentence(rng) for _ in range(25)]
            name = f"nw/{source}/0{d}/{source}_{d:04d}"
            (folder / f"{source}_{d:04d}.v4_gold_conll").write_text(document(rng, name, sents))
            (folder / f"{source}_{d:04d}.v4_auto_conll").write_text(
                document(rng, name, sents, entities=False)
            )
            gold[split].append((str(folder / f"{source}_{d:04d}.v4_gold_conll"), sents))
    # in the order the globs list the files (sorted paths)
    return root, {k: [s for _, sents in sorted(v) for s in sents] for k, v in gold.items()}


def test_a_gold_conll_file_reads_as_iob2_sentence_by_sentence(tree):
    root, gold = tree
    files = sorted((root / "conll-2012/v4/data/test").rglob("*.v4_gold_conll"))
    sentences, tags = [], []
    for f in files:
        s, t = read_conll(str(f), token_index=3, tag_index=10, drop_comments=True)
        sentences += s
        tags += t
    assert sentences == [[w for w, _ in s] for s in gold["test"]]
    assert tags == [[t for _, t in s] for s in gold["test"]]
    assert choose_format(str(files[0]), files[0].read_text(), drop_comments=True) == "conll"


@pytest.mark.parametrize(
    ("column", "error"),
    [
        (["(PERSON*", "(GPE*", "*)", "*)"], r"x\.gold_conll:2: entity '\(GPE' opens inside '\(PERSON'"),
        (["*", "*)", "*", "*"], r"x\.gold_conll:2: '\*\)' closes no entity"),
        (["*", "(ORG*", "*", "*"], r"x\.gold_conll:2: entity '\(ORG' is not closed"),
    ],
)
def test_malformed_brackets_name_the_sentence(tmp_path, column, error):
    path = tmp_path / "x.gold_conll"
    rows = [f"w{i} {tag}" for i, tag in enumerate(column)]
    path.write_text("#begin document (x); part 000\n" + "\n".join(rows) + "\n\n#end document\n")
    with pytest.raises(DataError, match=error):
        read_conll(str(path), token_index=0, tag_index=1, drop_comments=True)


def test_the_recipe_trains_evaluates_and_predicts_iob2_scored_as_seqeval(tree, tmp_path, monkeypatch):
    root, gold = tree
    monkeypatch.chdir(root)  # the recipe's globs are relative, as from the folder holding conll-2012/
    args = [
        "--config", str(CONF / "tagger" / "ontonotes.yaml"), "--data.cache_dir", str(tmp_path / "cache"),
        "--runs_dir", str(tmp_path / "runs"), "--name", "onto", "--data.batch_size", "8",
        "--model.word_embedding_size", "16", "--model.char_hidden_size", "8", "--model.hidden_size", "16",
        "--model.dropout", "0.1", "--optim.lr", "0.02", "--training.ema_decay", "0",
        "--trainer.max_epochs", "6", "--trainer.max_time", "null", "--trainer.accelerator", "cpu",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--wandb.mode", "disabled",
    ]  # fmt: skip
    assert main(["train", *args]) == 0
    run = tmp_path / "runs" / "onto"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test"]["per_type"]) == set(NAMES) and metrics["test"]["f1"] > 50
    ckpt, pred = run / "checkpoints" / "best.ckpt", tmp_path / "pred.txt"
    test_file = sorted((root / "conll-2012/v4/data/test").rglob("*.v4_gold_conll"))[0]
    assert main(["predict", str(ckpt), "--input", str(test_file), "--output", str(pred)]) == 0
    rows = [[line.split() for line in b.splitlines()] for b in pred.read_text().strip().split("\n\n")]
    expected = [[t for _, t in s] for s in gold["test"][: len(rows)]]
    assert [[r[1] for r in s] for s in rows] == expected  # the gold column, read as IOB2
    guess = [[r[2] for r in s] for s in rows]
    assert {t[:2] for s in guess for t in s} <= {"O", "B-", "I-"}
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(ckpt), "--data.test_files", str(test_file), "--output", str(out)]) == 0
    assert json.loads(out.read_text())["f1"] == pytest.approx(100 * f1_score(expected, guess), abs=1e-9)
