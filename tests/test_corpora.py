"""Standard corpora by config alone (issue 11): a CoNLL-2000-like corpus whose test split has a chunk type train
never had trains, evaluates and predicts, scored as conlleval scores it; validation_split; missing splits."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import datasets
import pytest
from seqeval.metrics import classification_report, f1_score
from seqeval.scheme import BILOU, IOBES, IOE2

import pipeline
from data_modules.tag_schemes import convert
from pipeline.__main__ import main
from tests.conftest import CONF
from tests.test_distributed import evaluate_with

NP = (["the", "a", "this"], ["cat", "dog", "report", "market"])
VERBS = ["saw", "sold", "likes", "said"]
PREPS = ["in", "of", "on"]


def chunked(rng: random.Random, adjectives: bool = False) -> list[tuple[str, str, str]]:
    """`word POS chunk` rows: NP VP NP (PP NP); chunk tags IOB2 like CoNLL-2000; NPs of three words half the time
    with `adjectives`."""

    def np_() -> list[tuple[str, str, str]]:
        adjective = [("big", "JJ", "I-NP")] if adjectives and rng.random() < 0.5 else []
        return [(rng.choice(NP[0]), "DT", "B-NP"), *adjective, (rng.choice(NP[1]), "NN", "I-NP")]

    rows = np_() + [(rng.choice(VERBS), "VBD", "B-VP")] + np_()
    if rng.random() < 0.5:
        rows += [(rng.choice(PREPS), "IN", "B-PP")] + np_()
    return rows + [(".", ".", "O")]


def write_rows(path: Path, sents: list[list[tuple[str, ...]]]) -> None:
    path.write_text("".join("".join(" ".join(r) + "\n" for r in s) + "\n" for s in sents))


@pytest.fixture(scope="module")
def chunk_corpus(tmp_path_factory) -> Path:
    """train.txt (120 sentences) and test.txt (30, three with an LST chunk train never has): no validation."""
    folder = tmp_path_factory.mktemp("conll2000")
    rng = random.Random(3)
    write_rows(folder / "train.txt", [chunked(rng) for _ in range(120)])
    test = [chunked(rng) for _ in range(30)]
    for i in (4, 11, 20):
        test[i] = [("1", "LS", "B-LST"), (")", ")", "O")] + test[i]
    write_rows(folder / "test.txt", test)
    (folder / "train.old.txt").write_text("stale NN B-NP\n")  # ignored: not a split file name
    return folder


def chunk_args(work: Path, corpus: Path, *extra: str) -> list[str]:
    return [
        "--config", str(CONF / "tagger" / "conll2000.yaml"), "--data.path", str(corpus),
        "--data.cache_dir", str(work / "cache"), "--runs_dir", str(work / "runs"), "--name", "chunk",
        "--data.validation_split", "0.2", "--data.batch_size", "8", "--data.max_tokens_per_batch", "64",
        "--model.word_embedding_size", "16", "--model.char_hidden_size", "8", "--model.hidden_size", "16",
        "--model.dropout", "0.1", "--optim.lr", "0.02", "--training.ema_decay", "0",
        "--trainer.max_epochs", "4", "--trainer.max_time", "null", "--trainer.accelerator", "cpu",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--wandb.mode", "disabled", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def trained(chunk_corpus, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("chunk-run")
    with pytest.warns(UserWarning, match=r"test split has gold tags .*never in training.*: B-LST \(3\)"):
        assert main(["train", *chunk_args(work, chunk_corpus)]) == 0
    return work / "runs" / "chunk"


def read_predictions(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    gold, guess = [], []
    for block in path.read_text().strip().split("\n\n"):
        rows = [line.split() for line in block.splitlines()]
        gold.append([r[1] for r in rows])
        guess.append([r[2] for r in rows])
    return gold, guess


def test_unseen_test_chunk_is_scored_like_conlleval(trained, chunk_corpus, tmp_path):
    metrics = json.loads((trained / "metrics.json").read_text())
    lst = metrics["test"]["per_type"]["LST"]
    assert lst["support"] == 3 and lst["precision"] == 0 and lst["recall"] == 0
    ckpt = trained / "checkpoints" / "best.ckpt"
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(ckpt), "--output", str(out), "--trainer.enable_progress_bar", "false"]) == 0
    result = json.loads(out.read_text())
    pred = tmp_path / "pred.txt"
    assert main(["predict", str(ckpt), "--input", str(chunk_corpus / "test.txt"), "--output", str(pred)]) == 0
    gold, guess = read_predictions(pred)
    assert sum(t == "B-LST" for s in gold for t in s) == 3 and not any("LST" in t for s in guess for t in s)
    # Scored by seqeval (conlleval's chunk rules), independent of our metric: the LST chunks are misses.
    assert 100 * f1_score(gold, guess) == pytest.approx(result["f1"], abs=1e-9)
    report = classification_report(gold, guess, output_dict=True, zero_division=0)
    assert report["LST"]["recall"] == 0 and report["LST"]["support"] == 3
    # Exact and the same with two processes, the unseen type included.
    two = evaluate_with(2, ckpt, "test", tmp_path / "two.json")
    assert two["f1"] == pytest.approx(result["f1"], abs=1e-9) and two["per_type"] == result["per_type"]


def test_split_aliases_and_validation_split_in_the_run_config(trained, tmp_path):
    ckpt = trained / "checkpoints" / "best.ckpt"
    for alias in ("valid", "dev", "val"):
        out = tmp_path / f"{alias}.json"
        assert main(["evaluate", str(ckpt), "--split", alias, "--output", str(out),
                     "--trainer.enable_progress_bar", "false"]) == 0  # fmt: skip
        assert json.loads(out.read_text())["split"] == "validation"
    assert "validation_split: 0.2" in (trained / "config.yaml").read_text()
    # Two processes, each rebuilding the held-out part from the corpus in a fresh cache: the same sentences,
    # so the same scores as the training run's own validation of this checkpoint.
    one = json.loads((tmp_path / "valid.json").read_text())
    two = evaluate_with(2, ckpt, "dev", tmp_path / "two.json", "--data.cache_dir", str(tmp_path / "fresh"))
    assert two["f1"] == pytest.approx(one["f1"], abs=1e-9) and two["per_type"] == one["per_type"]
    assert two["accuracy"] == pytest.approx(one["accuracy"], abs=1e-9)


def test_missing_validation_split_fails_before_any_model_or_logger(chunk_corpus, tmp_path, capsys):
    args = chunk_args(tmp_path, chunk_corpus, "--data.validation_split", "null", "--wandb.mode", "offline",
                      "--trainer.enable_model_summary", "true")  # fmt: skip
    assert main(["train", *args]) == 2
    out = capsys.readouterr()
    assert out.err.strip().count("\n") == 0 and "Traceback" not in out.err
    assert "no validation split" in out.err and "--data.validation_split 0.1" in out.err
    run = tmp_path / "runs" / "chunk"
    assert not list(run.rglob("*.ckpt")) and not list(run.rglob("wandb*")) and "Params" not in out.out


POS = {"the": "DET", "a": "DET", "cat": "NOUN", "dog": "NOUN", "saw": "VERB", "likes": "VERB", ".": "PUNCT"}


def test_pos_from_conllu_reports_accuracy_alone(tmp_path, capsys):
    rng = random.Random(5)
    for split, n in (("train", 60), ("dev", 15), ("test", 15)):
        rows = []
        for s in range(n):
            words = [rng.choice(["the", "a"]), rng.choice(["cat", "dog"]), rng.choice(["saw", "likes"]), "."]
            rows.append(f"# sent_id = {s}\n1-2\tthe cat\t_\t_\t_\t_\t_\t_\t_\t_\n")
            rows.append(
                "".join(f"{i + 1}\t{w}\t{w}\t{POS[w]}\t_\t_\t0\tdep\t_\t_\n" for i, w in enumerate(words))
            )
            rows.append("\n")
        (tmp_path / f"toy-ud-{split}.conllu").write_text("".join(rows))
    args = chunk_args(tmp_path, tmp_path, "--config", str(CONF / "tagger" / "ud_upos.yaml"),
                      "--data.validation_split", "null", "--data.path", str(tmp_path), "--trainer.max_epochs", "2")  # fmt: skip
    assert main(["train", *args]) == 0
    metrics = json.loads((tmp_path / "runs" / "chunk" / "metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy"} and metrics["test"]["accuracy"] > 50
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "f1" not in printed and "precision" not in printed
    assert (tmp_path / "runs" / "chunk" / "checkpoints" / "best.ckpt").is_file()  # best follows val/accuracy


@pytest.mark.parametrize(
    ("scheme", "letters", "given"),
    [
        ("bilou", "BILU", ()),
        ("bmes", "BMES", ()),
        ("ioe2", "IE", ()),
        ("io", "", ("--data.scheme", "io")),
        ("untyped", "BI", ()),
        ("underscore", "BI", ()),
    ],
)
def test_a_corpus_in_another_scheme_trains_predicts_in_its_own_tags_and_scores_as_seqeval(
    tmp_path, scheme, letters, given
):
    """BILOU (spaCy's BILUO), BMES (M- inside, as Chinese NER corpora write it) and IOE2 tags are detected, IO (types without prefixes, as Few-NERD writes them) is
    named, untyped IOB2 (bare B/I/O, as BioBERT's NCBI-disease files) is detected; each trains in BIOES, is
    predicted back in its own letters, and the F1 `evaluate` reports is seqeval's over `predict`'s output with
    seqeval's own reader of the scheme (strict BILOU/IOE2: the CRF's constrained output is always valid; IO as
    I- tags and untyped tags under conlleval's rules, BMES as IOBES with M- = I-). Before, L-/U- and M- tags counted
    as outside (U- chunks were neither trained nor scored), IOE2 was refused as contradictory BIOES, and IO and bare
    B/I read as POS tags. Tags written with an underscore (B_NP) are IOB2 too: before, they were read as POS tags
    (accuracy only, no chunks trained or scored)."""
    corpus = tmp_path / scheme
    corpus.mkdir()
    rng = random.Random(8)
    for split, n in (("train", 120), ("test", 30)):
        sents = [chunked(rng, adjectives=scheme == "bmes") for _ in range(n)]  # BMES' M- needs 3-word chunks
        if scheme == "untyped":  # one chunk type, written without it (NP only)
            tags = [[t[0] if t.endswith("-NP") else "O" for t in (r[2] for r in s)] for s in sents]
        elif scheme == "underscore":  # IOB2 written B_NP, as some corpora write it
            tags = [[r[2].replace("-", "_", 1) for r in s] for s in sents]
        else:
            tags = [convert([r[2] for r in s], "iob2", scheme) for s in sents]
        write_rows(
            corpus / f"{split}.txt", [[(*r[:2], t) for r, t in zip(s, ts)] for s, ts in zip(sents, tags)]
        )
    args = chunk_args(tmp_path, corpus, "--data.train_scheme", "bioes", *given)
    assert main(["train", *args]) == 0
    run = tmp_path / "runs" / "chunk"
    ckpt, out, pred = run / "checkpoints" / "best.ckpt", tmp_path / "eval.json", tmp_path / "pred.txt"
    assert main(["evaluate", str(ckpt), "--output", str(out), "--trainer.enable_progress_bar", "false"]) == 0
    assert main(["predict", str(ckpt), "--input", str(corpus / "test.txt"), "--output", str(pred)]) == 0
    gold, guess = read_predictions(pred)
    assert pipeline.load(ckpt).scheme == {"untyped": "iob2", "underscore": "iob2"}.get(scheme, scheme)
    if scheme == "untyped":
        assert {t for s in guess for t in s} <= {"O", "B", "I"} and json.loads(out.read_text())["per_type"][
            "_"
        ]
        expected = 100 * f1_score(gold, guess)  # seqeval's default mode reads untyped chunks as type "_"
    elif scheme == "io":
        assert {t for s in guess for t in s} <= {"O", "NP", "VP", "PP"}  # the corpus' own tags
        gold, guess = ([[t if t == "O" else f"I-{t}" for t in s] for s in tags] for tags in (gold, guess))
        expected = 100 * f1_score(gold, guess)  # seqeval's default mode: conlleval's rules
    elif scheme == "underscore":
        assert {t[1] for s in guess for t in s if t != "O"} == {
            "_"
        }  # written back B_NP (trained as S_NP, E_NP)
        expected = 100 * f1_score(gold, guess)  # seqeval's default mode reads B_NP as a chunk of type "_NP"
    else:
        used = {t[0] for s in guess for t in s if t != "O"}
        assert set({"bilou": "LU", "bmes": "MS", "ioe2": "IE"}[scheme]) <= used <= set(letters), (
            used
        )  # not BIOES'
        if scheme == "bmes":  # seqeval has no BMES: its IOBES reader, on M- read as the I- it stands for
            gold, guess = ([[t.replace("M-", "I-", 1) for t in s] for s in tags] for tags in (gold, guess))
        reader = {"bilou": BILOU, "ioe2": IOE2, "bmes": IOBES}[scheme]
        expected = 100 * f1_score(gold, guess, mode="strict", scheme=reader)
    assert json.loads(out.read_text())["f1"] == pytest.approx(expected, abs=1e-9)
    assert json.loads(out.read_text())["f1"] > 50  # chunks were learnt, so the comparison says something


def test_prepare_names_the_tag_scheme_and_keeps_quick_steps_quiet(chunk_corpus, tmp_path, caplog, capsys):
    """One line says which scheme was found and what the model learns in; `datasets`' bars for dropping empty
    sentences and saving (a bar per split and step, each done at once) are off, and on again afterwards."""
    with caplog.at_level("INFO", logger="data_modules.tagging.cache"):
        assert main(["prepare", *chunk_args(tmp_path, chunk_corpus)]) == 0
    assert any(
        re.fullmatch(r"Tags: \d+, scheme iob2 \(detected\), trained in bioes", m) for m in caplog.messages
    )
    err = capsys.readouterr().err
    assert "Encoding train" in err and "Filter" not in err and "Saving the dataset" not in err
    assert not datasets.are_progress_bars_disabled()
