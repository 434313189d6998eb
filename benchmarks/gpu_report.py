"""The GPU check's report.md (tables for people) and figures.json (every number, for tools)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.crf_speed import table as crf_table


def _gb(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def throughput_table(rows: list[dict]) -> str:
    lines = ["| model | precision | ours | bare loop | ours / bare | peak GPU GB ours / bare | data wait (ours) | end of run s (ours) |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['model']} | {r['precision']} | {r['ours']:,.0f} {r['unit']} | {r['bare']:,.0f} | "
                     f"{r['ratio']:.3f} | {_gb(r['peak_gb_ours'])} / {_gb(r['peak_gb_bare'])} | {r['data_wait']:.1%} | "
                     f"{_gb(r.get('after_last_step_s'))} |")  # fmt: skip
    return "\n".join(lines)


def waits_section(waits: list[dict]) -> str:
    """Per model: step time under the profiler, the sync sites per step, the CUDA runtime calls that wait."""
    parts = []
    for w in waits:
        sites = "\n".join(f"  - {n}/step `{k}`" for k, n in w["syncs_per_step"].items()) or "  - none"
        runtime = ", ".join(f"`{k}` {n}" for k, n in w["runtime_waits_per_step"].items()) or "none"
        parts.append(f"- **{w['model']}** ({w['precision']}, {w['steps']} steps, {w['ms_per_step']:.1f} ms a step "
                     f"under the profiler); host waits per step:\n{sites}\n  - runtime calls per step: {runtime}")  # fmt: skip
    return "\n".join(parts) or "Not run."


def checks_table(checks: list[dict]) -> str:
    mark = {True: "pass", False: "**FAIL**", None: "not run"}
    lines = ["| check | result | figures |", "|---|---|---|"]
    lines += [f"| {c['check']} | {mark[c['ok']]} | {c['value']} |" for c in checks]
    return "\n".join(lines)


def write(out: Path, info: dict, source: str, rows: list[dict], skipped: dict[str, str], checks: list[dict],
          crf: list[dict], waits: list[dict], minutes: float, a) -> None:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    mode = (
        "DRY RUN on the CPU at tiny sizes (rehearsal of the script, not a measurement of a GPU)"
        if a.dry_run
        else "GPU"
    )
    text = "\n\n".join([
        f"# GPU check ({mode})",
        f"Command: `python -m benchmarks gpu {'--dry-run ' if a.dry_run else ''}--repeats {a.repeats} --steps {a.steps} "
        f"--warmup {a.warmup}`; took {minutes:.1f} minutes. Data: {source}.",
        "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in info.items()),
        "## Throughput: ours (`python -m pipeline train`) vs a bare loop",
        f"Medians of {a.repeats} interleaved repeats of {a.steps} steps after {a.warmup} warm-up steps. LM: batch 64 x "
        "bptt 35, tied weights, the Brown recipe's SGD; tagger: conf/tagger/conll2003.yaml (EMA included in ours). "
        "Peak GPU memory is torch's max allocated; data wait is the share of the timed steps spent between one "
        "step's end and the next step's start (fetch + copy to the device). The clock stops at the last step's end; "
        "end of run is what ours spends after it (final validation, checkpoint files), outside the ratio.",
        throughput_table(rows),
        "\n".join(f"- {p} not run: {why}" for p, why in skipped.items()) or "All precisions ran.",
        "## Where ours waits for the device (`benchmarks/gpu_syncs.py`)",
        "Sync sites are Python stacks (innermost first) of the calls that made the host wait; on the CPU (dry run) "
        "they are the value reads that would wait on a GPU, reads of CPU tensors included. Profiles: profile-*.txt.",
        waits_section(waits),
        "## Checks",
        checks_table(checks),
        "## CRF: loop vs scan (models/crf.py) on this device",
        crf_table(crf),
    ])  # fmt: skip
    (out / "report.md").write_text(text + "\n")
    for w in waits:
        (out / f"profile-{w['model']}.txt").write_text(w["profile"] + "\n")
    figures = {"info": info, "source": source, "dry_run": a.dry_run, "minutes": minutes, "skipped": skipped,
               "throughput": [{k: v for k, v in r.items() if k != "scales"} for r in rows],
               "checks": checks, "crf": crf,
               "waits": [{k: v for k, v in w.items() if k != "profile"} for w in waits]}  # fmt: skip
    (out / "figures.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
