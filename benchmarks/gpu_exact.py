"""Exactness checks through the CLI: evaluate on the GPU and the CPU agree, a SIGTERM-stopped and resumed
deterministic run equals an uninterrupted one bit for bit, and DDP evaluation equals one process.

Everything runs `python -m pipeline ...` in subprocesses (the stable interface); nothing here imports
the pipeline.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def cli(args: list[str], check: bool = True, env: dict | None = None, timeout: float = 600):
    """`python -m pipeline ARGS` (or `python -m benchmarks.gpu_probe ...` when args start with '-m')."""
    cmd = [sys.executable, *(args if args[0] == "-m" else ["-m", "pipeline", *args])]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0 and check:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done


def _numbers(tree, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of an evaluate --output JSON, by dotted key."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _numbers(sub, f"{prefix}{key}.").items()}
    if isinstance(tree, (int, float)) and not isinstance(tree, bool):
        return {prefix.rstrip("."): float(tree)}
    return {}


def evaluate_parity(ckpt: Path, accelerator: str, work: Path, rel: float = 1e-4, devices: int = 1) -> dict:
    """Every number of `evaluate CKPT --split test` on `accelerator` (x devices) vs one CPU process."""
    out = {}
    for name, acc, n in (("device", accelerator, devices), ("cpu", "cpu", 1)):
        path = work / f"{ckpt.parent.parent.name}-{name}-{n}.json"
        extra = ["--trainer.strategy", "ddp"] if n > 1 else []
        cli(["evaluate", str(ckpt), "--split", "test", "--output", str(path), "--trainer.accelerator", acc,
             "--trainer.devices", str(n), *extra])  # fmt: skip
        out[name] = _numbers(json.loads(path.read_text()))
    worst, key = 0.0, ""
    for k, v in out["cpu"].items():
        if k in out["device"] and "second" not in k and "time" not in k:
            d = abs(out["device"][k] - v) / max(abs(v), 1e-12)
            if d > worst or math.isnan(d):
                worst, key = d, k
    return {"max_rel_diff": worst, "worst_key": key, "ok": worst <= rel and set(out["cpu"]) == set(out["device"]),
            "figures": {k: (out["device"].get(k), v) for k, v in out["cpu"].items()}}  # fmt: skip


def _state(run: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    live = {f"live.{k}": v for k, v in ckpt.get("current_model_state", {}).items()}
    return ckpt["state_dict"] | live


def resume_equal(args: list[str], runs: Path, every: int) -> dict:
    """Uninterrupted run vs one stopped by SIGTERM after its first periodic checkpoint and run again."""
    env = dict(os.environ)
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS is deterministic only with it
    full = [*args, "--name", "full"]
    cli(full, env=env)
    cut = [*args, "--name", "cut"]
    cmd = [sys.executable, "-m", "pipeline", *cut]  # args start with the command, "train"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    deadline, stopped_at = time.monotonic() + 600, None
    while proc.poll() is None and time.monotonic() < deadline:
        if any((runs / "cut" / "checkpoints").glob("step-*.ckpt")):
            os.killpg(proc.pid, signal.SIGTERM)  # the whole session, as a scheduler signals a job
            stopped_at = time.monotonic()
            break
        time.sleep(0.02)
    _, err = proc.communicate(timeout=600)
    if proc.returncode != 128 + signal.SIGTERM:
        return {"ok": False, "why": f"the stop did not land (exit {proc.returncode}, signal sent: "
                f"{stopped_at is not None}): {err[-1500:]}"}  # fmt: skip
    again = cli(cut, env=env, check=False)
    if again.returncode != 0:
        return {"ok": False, "why": f"resume failed: {again.stderr[-1500:]}"}
    a, b = _state(runs / "full"), _state(runs / "cut")
    differ = [k for k in a if k not in b or not torch.equal(a[k], b[k])]
    message = [line for line in err.splitlines() if "Received SIGTERM" in line]
    return {"ok": not differ and a.keys() == b.keys(), "tensors": len(a), "differ": differ[:5],
            "stop": message[-1].strip() if message else ""}  # fmt: skip
