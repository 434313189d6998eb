"""Span precision/recall/F1 and token accuracy, counted exactly as CoNLL conlleval counts them.

States are integer counts summed across ranks, so the result is the same whatever the world size.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from data_modules.tag_schemes import chunks


def _prf(correct: float, pred: float, gold: float) -> tuple[float, float, float]:
    """Percentages like conlleval: 0 where a denominator is 0."""
    precision = 100.0 * correct / pred if pred else 0.0
    recall = 100.0 * correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class SpanF1(Metric):
    """Chunk-level precision/recall/F1 (overall and per type) plus token accuracy, all in percent.

    `update(preds, golds)` takes tag strings in the corpus scheme, one list per sentence. States:
    `correct`, `pred`, `gold`: (num_types,) int64 chunk counts per type; `tokens_correct`, `tokens_total`: () int64.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, types: list[str], scheme: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.types = list(types)
        self.scheme = scheme
        self._index = {t: i for i, t in enumerate(self.types)}
        num_types = len(self.types)
        for name in ("correct", "pred", "gold"):
            self.add_state(name, default=torch.zeros(num_types, dtype=torch.long), dist_reduce_fx="sum")
        for name in ("tokens_correct", "tokens_total"):
            self.add_state(name, default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def _type_index(self, type_: str, tags: list[str]) -> int:
        index = self._index.get(type_)
        if index is None:
            known = ", ".join(self.types) or "none"
            raise ValueError(
                f"chunk type {type_!r} (in tags {' '.join(tags)}) is not one of the metric's types ({known})"
            )
        return index

    def update(self, preds: list[list[str]], golds: list[list[str]]) -> None:
        if len(preds) != len(golds):
            raise ValueError(f"SpanF1.update got {len(preds)} predicted and {len(golds)} gold sentences")
        num_types = len(self.types)
        correct, pred, gold = [0] * num_types, [0] * num_types, [0] * num_types
        tokens_correct = tokens_total = 0
        for p_tags, g_tags in zip(preds, golds):
            if len(p_tags) != len(g_tags):
                raise ValueError(f"predicted and gold tags differ in length: {len(p_tags)} != {len(g_tags)}")
            tokens_total += len(g_tags)
            tokens_correct += sum(p == g for p, g in zip(p_tags, g_tags))
            p_chunks = set(chunks(p_tags, self.scheme))
            g_chunks = set(chunks(g_tags, self.scheme))
            for type_, _, _ in p_chunks:
                pred[self._type_index(type_, p_tags)] += 1
            for type_, _, _ in g_chunks:
                gold[self._type_index(type_, g_tags)] += 1
            # conlleval's correct chunk: same start, same end, same type in both.
            for type_, _, _ in p_chunks & g_chunks:
                correct[self._index[type_]] += 1
        device = self.correct.device
        self.correct += torch.tensor(correct, dtype=torch.long, device=device)
        self.pred += torch.tensor(pred, dtype=torch.long, device=device)
        self.gold += torch.tensor(gold, dtype=torch.long, device=device)
        self.tokens_correct += tokens_correct
        self.tokens_total += tokens_total

    def compute(self) -> dict[str, Tensor]:
        """Scalar float64 tensors: precision, recall, f1, accuracy and per_type/<TYPE>/precision|recall|f1|support."""
        correct, pred, gold = self.correct.tolist(), self.pred.tolist(), self.gold.tolist()
        precision, recall, f1 = _prf(sum(correct), sum(pred), sum(gold))
        total = int(self.tokens_total)
        accuracy = 100.0 * int(self.tokens_correct) / total if total else 0.0
        values = {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}
        for i, type_ in enumerate(self.types):
            p, r, f = _prf(correct[i], pred[i], gold[i])
            prefix = (
                f"per_type/{type_ or '_'}/"  # untyped chunks (bare B/I tags) are "_", as seqeval names them
            )
            values.update({prefix + "precision": p, prefix + "recall": r, prefix + "f1": f})
            values[prefix + "support"] = float(gold[i])
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}


def format_table(result: dict) -> str:
    """A conlleval-like text table from `SpanF1.compute()`: one overall line, then one line per type."""
    types = [
        k[len("per_type/") : -len("/support")]
        for k in result
        if k.startswith("per_type/") and k.endswith("/support")
    ]
    support = sum(int(float(result[f"per_type/{t}/support"])) for t in types)
    lines = [
        f"accuracy: {float(result['accuracy']):6.2f}%; precision: {float(result['precision']):6.2f}%; "
        f"recall: {float(result['recall']):6.2f}%; FB1: {float(result['f1']):6.2f}  {support}"
    ]
    for t in types:
        p, r, f, s = (float(result[f"per_type/{t}/{k}"]) for k in ("precision", "recall", "f1", "support"))
        lines.append(f"{t:>17}: precision: {p:6.2f}%; recall: {r:6.2f}%; FB1: {f:6.2f}  {int(s)}")
    return "\n".join(lines)
