"""SpanF1 against seqeval and an independent port of conlleval's counting; state merging across instances."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
import torch
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities

from data_modules.tag_schemes import convert
from models.span_metric import SpanF1, format_table

TYPES = ["LOC", "MISC", "ORG", "PER"]
IOB2_TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]


def random_tags(rng: random.Random, length: int) -> list[str]:
    """Arbitrary IOB2 tags, invalid ones (I- after O, type changes) included."""
    return [rng.choice(IOB2_TAGS) if rng.random() < 0.6 else "O" for _ in range(length)]


def noisy(rng: random.Random, gold: list[str]) -> list[str]:
    return [rng.choice(IOB2_TAGS) if rng.random() < 0.25 else t for t in gold]


def corpus(seed: int, n: int = 250) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    golds = [random_tags(rng, rng.randint(1, 14)) for _ in range(n)]
    return [noisy(rng, g) for g in golds], golds


def test_overall_scores_equal_seqeval() -> None:
    preds, golds = corpus(0)
    metric = SpanF1(TYPES, "iob2")
    metric.update(preds, golds)
    result = metric.compute()
    assert float(result["precision"]) == pytest.approx(100 * precision_score(golds, preds), abs=1e-9)
    assert float(result["recall"]) == pytest.approx(100 * recall_score(golds, preds), abs=1e-9)
    assert float(result["f1"]) == pytest.approx(100 * f1_score(golds, preds), abs=1e-9)


def test_each_sentence_equals_seqeval() -> None:
    rng = random.Random(1)
    for _ in range(200):
        gold = random_tags(rng, rng.randint(1, 8))
        pred = noisy(rng, gold)
        metric = SpanF1(TYPES, "iob2")
        metric.update([pred], [gold])
        result = metric.compute()
        assert float(result["f1"]) == pytest.approx(100 * f1_score([gold], [pred]), abs=1e-9), (gold, pred)


def test_untyped_tags_equal_seqeval_with_its_type_name() -> None:
    """Bare B/I/O tags (one chunk type, unnamed): the same figures as seqeval, reported under its name "_"."""
    rng = random.Random(4)
    golds = [[rng.choice("OBI") for _ in range(rng.randint(1, 10))] for _ in range(200)]
    preds = [[rng.choice("OBI") if rng.random() < 0.25 else t for t in g] for g in golds]
    metric = SpanF1([""], "iob2")
    metric.update(preds, golds)
    result = metric.compute()
    assert float(result["f1"]) == pytest.approx(100 * f1_score(golds, preds), abs=1e-9)
    assert float(result["per_type/_/f1"]) == float(result["f1"])
    assert float(result["per_type/_/support"]) == sum(len(get_entities(g)) for g in golds)


# --- an independent, line-by-line port of conlleval.pl's counting (original rules, no S-) -----------------
def _end(prev: str, tag: str, prev_type: str, type_: str) -> bool:
    pairs = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
    return (prev, tag) in pairs or (prev not in ("O", ".") and prev_type != type_) or prev in ("[", "]")


def _start(prev: str, tag: str, prev_type: str, type_: str) -> bool:
    pairs = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
    return (prev, tag) in pairs or (tag not in ("O", ".") and prev_type != type_) or tag in ("[", "]")


def conlleval(golds: list[list[str]], preds: list[list[str]]) -> dict:
    counts: dict = defaultdict(lambda: [0, 0, 0])  # type -> [correct, guessed, gold]
    correct_tags = tokens = 0
    in_correct = False
    last_c, last_ct, last_g, last_gt = "O", "", "O", ""
    lines = []
    for gold, pred in zip(golds, preds):
        lines += [(False, c, g) for c, g in zip(gold, pred)] + [(True, "O", "O")]
    for boundary, c_tag, g_tag in lines:
        c, ct = (c_tag.split("-") + [""])[:2]
        g, gt = (g_tag.split("-") + [""])[:2]
        end_c, end_g = _end(last_c, c, last_ct, ct), _end(last_g, g, last_gt, gt)
        if in_correct:
            if end_c and end_g and last_gt == last_ct:
                in_correct = False
                counts[last_ct][0] += 1
            elif end_c != end_g or gt != ct:
                in_correct = False
        start_c, start_g = _start(last_c, c, last_ct, ct), _start(last_g, g, last_gt, gt)
        if start_c and start_g and gt == ct:
            in_correct = True
        if start_c:
            counts[ct][2] += 1
        if start_g:
            counts[gt][1] += 1
        if not boundary:
            correct_tags += c == g and ct == gt
            tokens += 1
        last_c, last_ct, last_g, last_gt = c, ct, g, gt
    if in_correct:
        counts[last_ct][0] += 1
    return {"types": dict(counts), "accuracy": 100.0 * correct_tags / tokens}


def test_matches_conlleval_port_on_iob1() -> None:
    rng = random.Random(2)
    golds = [convert(random_tags(rng, rng.randint(1, 14)), "iob2", "iob1") for _ in range(300)]
    preds = [convert(noisy(rng, g), "iob2", "iob1") if rng.random() < 0.5 else noisy(rng, g) for g in golds]
    metric = SpanF1(TYPES, "iob1")
    metric.update(preds, golds)
    result = metric.compute()
    expected = conlleval(golds, preds)
    assert float(result["accuracy"]) == pytest.approx(expected["accuracy"], abs=1e-9)
    for t in TYPES:
        correct, guessed, gold = expected["types"].get(t, [0, 0, 0])
        assert int(metric.correct[TYPES.index(t)]) == correct
        assert int(metric.pred[TYPES.index(t)]) == guessed
        assert int(metric.gold[TYPES.index(t)]) == gold
        precision = 100.0 * correct / guessed if guessed else 0.0
        assert float(result[f"per_type/{t}/precision"]) == pytest.approx(precision, abs=1e-9)
        assert float(result[f"per_type/{t}/support"]) == gold


def score(preds: str, golds: str, scheme: str = "iob2") -> dict[str, float]:
    metric = SpanF1(["LOC", "PER"], scheme)
    metric.update([preds.split()], [golds.split()])
    return {k: float(v) for k, v in metric.compute().items()}


def test_edge_cases() -> None:
    # I- after O is a chunk start in both
    assert score("O I-PER I-PER", "O B-PER I-PER")["f1"] == 100.0
    # a type change inside a chunk splits it: B-PER | I-LOC
    r = score("B-PER I-LOC", "B-PER I-PER")
    assert (r["precision"], r["recall"]) == (0.0, 0.0)
    r = score("B-PER I-LOC", "B-PER B-LOC")
    assert r["f1"] == 100.0 and r["accuracy"] == 50.0
    # chunk at the sentence end, single-token chunks
    assert score("O B-LOC B-PER", "O B-LOC B-PER")["f1"] == 100.0
    r = score("O B-LOC I-LOC", "O B-LOC O")
    assert (r["precision"], r["recall"], r["per_type/LOC/support"]) == (0.0, 0.0, 1.0)
    # IOB1: I-PER I-PER B-PER is two chunks
    r = score("I-PER I-PER I-PER", "I-PER I-PER B-PER", "iob1")
    assert (r["precision"], r["recall"]) == (0.0, 0.0) and r["per_type/PER/support"] == 2.0
    r = score("I-PER I-PER B-PER O I-LOC", "I-PER I-PER B-PER O I-LOC", "iob1")
    assert r["f1"] == 100.0 and r["accuracy"] == 100.0
    # BIOES
    r = score("B-PER E-PER S-LOC O", "B-PER E-PER B-LOC E-LOC", "bioes")
    assert r["precision"] == 50.0 and r["recall"] == 50.0 and r["per_type/PER/f1"] == 100.0
    # nothing predicted, nothing gold: zeros, no division error
    r = score("O O", "O O")
    assert (r["precision"], r["recall"], r["f1"], r["accuracy"]) == (0.0, 0.0, 0.0, 100.0)


def test_unknown_type_raises() -> None:
    metric = SpanF1(["PER"], "iob2")
    with pytest.raises(ValueError, match="'LOC'"):
        metric.update([["B-LOC"]], [["O"]])


def test_none_scheme_reports_accuracy() -> None:
    metric = SpanF1([], "none")
    metric.update([["NN", "VB", "DT"]], [["NN", "NN", "DT"]])
    result = metric.compute()
    assert float(result["accuracy"]) == pytest.approx(200 / 3)
    assert float(result["f1"]) == 0.0


def test_merged_halves_equal_whole() -> None:
    preds, golds = corpus(3, n=120)
    whole = SpanF1(TYPES, "iob2")
    whole.update(preds, golds)
    a, b, c = SpanF1(TYPES, "iob2"), SpanF1(TYPES, "iob2"), SpanF1(TYPES, "iob2")
    a.update(preds[:50], golds[:50])
    b.update(preds[50:], golds[50:])
    c.update(preds[50:], golds[50:])
    # as a "sum" all-reduce does it
    summed = SpanF1(TYPES, "iob2")
    for name in ("correct", "pred", "gold", "tokens_correct", "tokens_total"):
        setattr(summed, name, getattr(a, name) + getattr(b, name))
    a.merge_state(c)
    expected = whole.compute()
    for result in (summed.compute(), a.compute()):
        assert result.keys() == expected.keys()
        for key, value in expected.items():
            assert torch.equal(result[key], value), key


def test_format_table() -> None:
    preds, golds = corpus(4, n=30)
    metric = SpanF1(TYPES, "iob2")
    metric.update(preds, golds)
    result = metric.compute()
    table = format_table(result)
    lines = table.splitlines()
    assert len(lines) == 1 + len(TYPES)
    assert lines[0].startswith("accuracy:") and f"FB1: {float(result['f1']):6.2f}" in lines[0]
    assert lines[4].strip().startswith("PER: precision:")
    assert lines[4].endswith(f"  {int(result['per_type/PER/support'])}")
