"""What every benchmark shares: medians of interleaved repeats, rows, machine facts, the results file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class Row:
    """One line of BENCHMARKS.md: a baseline and ours, each the median of `repeats` samples."""

    key: str
    """Name of the ratio in results.json."""
    title: str
    unit: str
    baseline_label: str
    baseline: list[float]
    ours: list[float]
    target: str = "reported"
    """Human-readable target, e.g. '>= 0.95'."""
    met: bool | None = None
    """None when the row is reported, not asserted."""
    ratio: float | None = None
    """ours / baseline unless the row defines it otherwise (then set explicitly)."""
    command: str = ""
    limits: str = ""
    """What limits the figure (profile evidence), filled for missed targets."""
    extra: dict[str, float] = field(default_factory=dict)
    """More figures that go into results.json as they are."""

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline and self.ours:
            self.ratio = median(self.ours) / max(median(self.baseline), 1e-12)


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def set_threads(threads: int) -> None:
    """Same intra-op threads for every measurement (ours and baselines)."""
    torch.set_num_threads(threads)


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit(),
    }


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def merge_results(path: Path, figures: dict[str, float]) -> dict[str, float]:
    """Add `figures` to the flat JSON at `path`, keeping keys written by the other suite."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    old.update({k: (round(v, 6) if isinstance(v, float) else v) for k, v in figures.items()})
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return old


def row_figures(rows: list[Row]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        if r.ratio is not None:
            out[r.key] = float(r.ratio)
        out.update(r.extra)
    return out


ROOT_RESULTS = Path(__file__).resolve().parent / "results.json"
"""benchmarks/results.json, the raw figures of both suites."""
