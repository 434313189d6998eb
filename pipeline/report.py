"""What the user reads at the end of train and evaluate: small tables on the console."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table


def print_result(split: str, result: dict, task, stderr: bool = False) -> None:
    """One row of headline metrics for `split`; the tagger adds its per-type table (on stderr when stdout carries
    the command's output)."""
    table = Table(title=f"{split} ({task.name})")
    table.add_column("split")
    # Only what the result has: a tag set without chunks (POS) reports accuracy, no span columns.
    headline = [key for key in task.headline if key in result] or list(task.headline)
    for key in headline:
        table.add_column(key, justify="right")
    table.add_row(split, *(fmt(result.get(key)) for key in headline))
    console = Console(stderr=stderr)
    console.print(table)
    per_type = result.get("per_type")
    if per_type:
        types = Table(title=f"{split}: per type")
        for col in ("type", "precision", "recall", "f1", "support"):
            types.add_column(col, justify="left" if col == "type" else "right")
        for name, row in sorted(per_type.items()):
            support = row.get("support")  # a count, logged as a float
            types.add_row(
                name, *(fmt(row.get(k)) for k in ("precision", "recall", "f1")), fmt(count(support))
            )
        console.print(types)


def count(value) -> int | None:
    return None if value is None else int(round(value))


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.2f}"


def nest(result: dict) -> dict:
    """Module results as the JSON users read: `per_type/LOC/f1` -> {"per_type": {"LOC": {"f1": ...}}},
    and `perplexity` spelled out next to the LM's `ppl`, with `bits` (loss / ln 2: bits per token, per
    character for a character model), the unit char-level results are usually published in."""
    out: dict = {}
    for key, value in result.items():
        if key.startswith("per_type/"):
            _, name, metric = key.split("/", 2)
            out.setdefault("per_type", {}).setdefault(name, {})[metric] = value
        else:
            out[key] = value
    if "ppl" in out:
        out["perplexity"] = out["ppl"]
        if "loss" in out:
            out["bits"] = out["loss"] / math.log(2)
    return out
