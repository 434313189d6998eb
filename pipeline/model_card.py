"""The model card: runs/<name>/README.md, written when training ends, refreshed by `evaluate`, copied by `export`.

YAML front matter in the Hugging Face model-card format (library, tags, datasets, a `model-index` with the
task, the dataset and the metrics), then what a reader needs: the data and its fingerprint, the scores (per
type for taggers), hardware and wall time, the commands to reproduce and to evaluate, the resolved config.
"""

from __future__ import annotations

import platform
from pathlib import Path

import torch
import yaml

HF_TASK = {
    "lm": ("text-generation", "Language Modelling"),
    "tagger": ("token-classification", "Token Classification"),
}
SPLIT_NAMES = {"val": "validation", "test": "test"}


def _metrics(task: str, result: dict) -> list[dict]:
    """The headline numbers of one split as model-index metrics."""
    if task == "lm":
        keys = [("perplexity", "Perplexity"), ("loss", "Loss (nats/token)"), ("bits", "Bits per token")]
    elif "f1" in result:
        keys = [("f1", "F1"), ("precision", "Precision"), ("recall", "Recall"), ("accuracy", "Accuracy")]
    else:
        keys = [("accuracy", "Accuracy")]
    return [{"type": k, "value": round(float(result[k]), 6), "name": name} for k, name in keys if k in result]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1000 else f"{value:.4f}"


def _table(result: dict) -> list[str]:
    rows = [f"| {k} | {_number(v)} |" for k, v in result.items() if isinstance(v, int | float)]
    lines = ["| metric | value |", "|---|---|", *rows]
    per_type = result.get("per_type")
    if per_type:
        lines += ["", "| type | precision | recall | f1 | support |", "|---|---|---|---|---|"]
        for name, r in sorted(per_type.items()):
            support = int(round(r.get("support", 0)))
            lines.append(f"| {name} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | {support} |")
    return lines


def hardware(trainer=None) -> str:
    """The machine in words: accelerator, process count, CPU, torch version."""
    parts = []
    if trainer is not None:
        device = trainer.strategy.root_device
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        parts.append(f"{trainer.world_size} x {name} ({trainer.precision})")
    parts.append(f"{platform.machine()} host with {torch.get_num_threads()} torch threads")
    parts.append(f"torch {torch.__version__}, Python {platform.python_version()}")
    return "; ".join(parts)


def render(name: str, task: str, config_text: str, results: dict[str, dict], facts: dict[str, str]) -> str:
    """The card's text. `results`: split ('val', 'test') -> nested metrics as `report.nest` gives them;
    `facts`: checkpoint, data fingerprint, hardware, wall time, run directory (whichever are known)."""
    config = yaml.safe_load(config_text) or {}
    data = config.get("data") or {}
    dataset = str(data.get("path") or data.get("train_files") or "unknown")
    hf_type, hf_name = HF_TASK[task]
    index = [
        {"task": {"type": hf_type, "name": hf_name},
         "dataset": {"name": dataset, "type": dataset, "split": SPLIT_NAMES.get(split, split)},
         "metrics": _metrics(task, result)}
        for split, result in results.items() if result
    ]  # fmt: skip
    meta = {
        "library_name": "lstm-pipeline",
        "tags": ["lstm", "pytorch-lightning", hf_type, *(["crf"] if task == "tagger" else [])],
        "datasets": [dataset],
        "model-index": [{"name": name, "results": index}],
    }
    run_dir = facts.get("run directory", f"runs/{name}")
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", "", f"# {name}", ""]
    kind = "BiLSTM sequence tagger" if task == "tagger" else "LSTM language model"
    lines += [f"A {kind} trained with lstm-pipeline (PyTorch Lightning).", "", "## Data", ""]
    lines += [f"- source: `{dataset}`" + (f" (config `{data['name']}`)" if data.get("name") else "")]
    lines += [f"- {k}: {facts[k]}" for k in ("data fingerprint",) if k in facts]
    lines += ["", "## Results", ""]
    for split, result in results.items():
        if result:
            lines += [f"### {SPLIT_NAMES.get(split, split)}", "", *_table(result), ""]
    if not any(results.values()):
        lines += [
            "Not evaluated yet: `python -m pipeline evaluate CHECKPOINT --split test` adds the scores.",
            "",
        ]
    lines += ["## Training", ""]
    lines += [f"- {k}: {facts[k]}" for k in ("checkpoint", "hardware", "wall time", "steps") if k in facts]
    lines += ["", "## Reproduce and evaluate", "", "```sh"]
    lines += [f"python -m pipeline train --config {run_dir}/config.yaml --name {name}"]
    lines += [f"python -m pipeline evaluate {run_dir}/checkpoints/best.ckpt --split test", "```", ""]
    lines += [
        "## Use",
        "",
        "```python",
        "import pipeline",
        "",
        f'model = pipeline.load("{run_dir}/checkpoints/best.ckpt")',
    ]
    lines += [
        'print(model.tag(["John lives in Paris ."]))' if task == "tagger" else 'print(model.generate("The"))'
    ]
    lines += ["```", "", "## Resolved config", "", "```yaml", config_text.rstrip(), "```", ""]
    return "\n".join(lines)


def read_facts(card: Path) -> dict[str, str]:
    """The facts a card already states (a refresh by `evaluate` keeps training's hardware and wall time)."""
    if not card.is_file():
        return {}
    facts = {}
    for line in card.read_text(encoding="utf-8").splitlines():
        if line.startswith("- ") and ": " in line:
            key, value = line[2:].split(": ", 1)
            facts[key] = value
    facts.pop("source", None)
    return facts


def data_fingerprint(dm) -> str | None:
    """The name the data module's cache is stored under (what `prepare` wrote)."""
    return dm.fingerprint()


def write(run_dir: Path, name: str, task: str, config_text: str, results: dict, facts: dict) -> Path:
    from data_modules.files import write_atomic

    path = run_dir / "README.md"
    write_atomic(path, render(name, task, config_text, results, {"run directory": str(run_dir), **facts}))
    return path


def run_folder(checkpoint: str) -> Path | None:
    """The run folder whose card describes `checkpoint` (runs/<name>/checkpoints/x.ckpt), or None."""
    ckpt = Path(checkpoint)
    run_dir = ckpt.parent.parent
    return run_dir if ckpt.parent.name == "checkpoints" and (run_dir / "config.yaml").is_file() else None


def refresh(checkpoint: str, task: str, config_text: str, stage: str, result: dict) -> Path | None:
    """After `evaluate`: the card of the run the checkpoint belongs to (runs/<name>/checkpoints/x.ckpt) gets this
    split's scores; the other split's come from metrics.json. A checkpoint outside a run has no card to refresh."""
    import json

    run_dir = run_folder(checkpoint)
    if run_dir is None:
        return None
    ckpt = Path(checkpoint)
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    results = {s: metrics.get(s) or {} for s in ("val", "test")}
    results[stage] = result
    facts = read_facts(run_dir / "README.md") | {"checkpoint": str(ckpt)}
    return write(run_dir, run_dir.name, task, config_text, results, facts)
