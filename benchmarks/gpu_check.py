"""`python -m benchmarks gpu [--dry-run]`: the one-command GPU check (throughput vs a bare CUDA loop,
precision sanity, CPU/GPU and resume exactness, DDP, CRF loop vs scan). Writes report.md and
figures.json to --out; exits 1 when a correctness check fails. --dry-run runs the same logic at tiny
sizes on the CPU, so the default test suite catches a broken script before a GPU is lent.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch
import yaml

from benchmarks import crf_speed, gpu_bare, gpu_data, gpu_report
from benchmarks.gpu_exact import ROOT, cli, evaluate_parity, resume_equal
from benchmarks.gpu_precision import precision_checks

LM_SIZES = {"lm-2x650": 650, "lm-2x1500": 1500}
DRY_LM_SIZES = {"lm-2x650": 32}
"""Hidden = embedding sizes (tied); the dry run keeps one name at a tiny size (the test suite's minute)."""


def versions(device: torch.device) -> dict[str, str]:
    info = {"python": platform.python_version(), "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(device), gpus=str(torch.cuda.device_count()),
                    cuda=str(torch.version.cuda), cudnn=str(torch.backends.cudnn.version()),
                    bf16=str(torch.cuda.is_bf16_supported()))  # fmt: skip
        try:
            smi = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            info["driver"] = subprocess.run(smi, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info["driver"] = "nvidia-smi not found"
    return info


def precisions(device: torch.device, dry: bool) -> tuple[list[str], dict[str, str]]:
    """Precisions to run and, for the others, why not."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return ["32-true", "bf16-mixed", "16-mixed"], {}
        return ["32-true", "16-mixed"], {"bf16-mixed": "this GPU has no bf16 support"}
    skipped = {"16-mixed": "dry run on the CPU: fp16 autocast with gradient scaling is a CUDA path"}
    try:  # oneDNN's bf16 LSTM needs CPU support that some machines lack (this one fails at batch 64)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(32, 32, batch_first=True)(torch.zeros(64, 35, 32))
    except RuntimeError as e:
        skipped["bf16-mixed"] = f"dry run: a bf16 LSTM fails on this CPU ({str(e).splitlines()[0][:100]})"
        return ["32-true"], skipped
    return ["32-true", "bf16-mixed"], skipped


def _ours(job: dict, precision: str, a, work: Path, name: str) -> dict:
    out = work / f"probe-{name}.json"
    args = [*job["args"], "--trainer.precision", precision, "--name", name]
    env = dict(os.environ, PROBE_WARMUP=str(a.warmup))
    cli(["-m", "benchmarks.gpu_probe", str(out), "train", *args], env=env)
    return json.loads(out.read_text()) | {"run": str(a.runs / name)}


def _jobs(a, brown: Path, conll: Path, device: torch.device) -> list[dict]:
    lm_recipe = yaml.safe_load((ROOT / "conf/lm/brown.yaml").read_text())
    tag_recipe = yaml.safe_load((ROOT / "conf/tagger/conll2003.yaml").read_text())
    steps = a.warmup + a.steps
    common = ["--trainer.accelerator", "gpu" if device.type == "cuda" else "cpu", "--trainer.devices", "1",
              "--trainer.max_steps", str(steps), "--trainer.limit_val_batches", "2", "--trainer.limit_test_batches", "2",
              "--trainer.num_sanity_val_steps", "0", "--trainer.enable_progress_bar", "false",
              "--trainer.enable_model_summary", "false", "--checkpoint.every_n_train_steps", str(steps),
              "--wandb.mode", "disabled", "--runs_dir", str(a.runs), "--data.cache_dir", str(a.work / "cache")]  # fmt: skip
    jobs = []
    for name, size in (DRY_LM_SIZES if a.dry_run else LM_SIZES).items():
        over = {"embedding_size": size, "hidden_size": size}
        jobs.append({"name": name, "unit": "tokens/s", "args": [
            "--config", str(ROOT / "conf/lm/brown.yaml"), "--data.path", str(brown), "--data.batch_size", "64",
            "--data.bptt", "35", "--model.embedding_size", str(size), "--model.hidden_size", str(size), *common],
            "bare": lambda p, over=over: gpu_bare.lm(brown, lm_recipe, over, 64, 35, a.steps, a.warmup, p, device)})  # fmt: skip
    tiny = ["--model.hidden_size", "16", "--model.word_embedding_size", "16", "--model.char_hidden_size", "8"]
    if a.dry_run:
        tag_recipe["model"].update(hidden_size=16, word_embedding_size=16, char_hidden_size=8)
    jobs.append({"name": "tagger-conll2003", "unit": "sentences/s", "args": [
        "--config", str(ROOT / "conf/tagger/conll2003.yaml"), "--data.path", str(conll), *common,
        *(tiny if a.dry_run else [])],
        "bare": lambda p: gpu_bare.tagger(conll, tag_recipe, a.steps, a.warmup, p, device)})  # fmt: skip
    return [j for j in jobs if not a.models or j["name"] in a.models]


def _rate(r: dict, unit: str) -> float:
    return (r["sentences"] if unit == "sentences/s" else r["tokens"]) / max(r["seconds"], 1e-12)


def throughput(a, jobs: list[dict], precs: list[str]) -> list[dict]:
    """Ours (CLI + probe) and bare, interleaved, per model and precision; medians of the repeats."""
    rows = []
    for job in jobs:
        for p in precs:
            runs: dict[str, list[dict]] = {"ours": [], "bare": []}
            for r in range(a.repeats):
                for which in ("ours", "bare") if r % 2 == 0 else ("bare", "ours"):
                    name = f"{job['name']}-{p}-{r}"
                    runs[which].append(_ours(job, p, a, a.work, name) if which == "ours" else job["bare"](p))
                    print(
                        f"  {name} {which}: {_rate(runs[which][-1], job['unit']):,.0f} {job['unit']}",
                        flush=True,
                    )
            med = {w: statistics.median(_rate(x, job["unit"]) for x in v) for w, v in runs.items()}
            o = runs["ours"]
            rows.append({"model": job["name"], "precision": p, "unit": job["unit"], "ours": med["ours"],
                         "bare": med["bare"], "ratio": med["ours"] / max(med["bare"], 1e-12),
                         "peak_gb_ours": o[0]["peak_memory_gb"], "peak_gb_bare": runs["bare"][0]["peak_memory_gb"],
                         "data_wait": statistics.median(x["data_wait_s"] / max(x["seconds"], 1e-12) for x in o),
                         "final_loss": statistics.mean(o[0]["losses"][-5:]), "losses": o[0]["losses"],
                         "bare_losses": runs["bare"][0]["losses"],
                         "scales": o[0]["scales"], "after_last_step_s": o[0].get("after_last_step_s"),
                         "run": o[0]["run"]})  # fmt: skip
    return rows


def syncs(a, jobs: list[dict], precs: list[str]) -> list[dict]:
    """Per model, one run of ours under `benchmarks.gpu_syncs`: where its steps wait for the device."""
    p = "bf16-mixed" if "bf16-mixed" in precs else precs[0]
    found = []
    for job in jobs:
        out = a.work / f"syncs-{job['name']}.json"
        args = [*job["args"], "--trainer.precision", p, "--name", f"syncs-{job['name']}"]
        cli(["-m", "benchmarks.gpu_syncs", str(out), str(a.warmup), str(min(a.steps, 20)), "train", *args])
        found.append({"model": job["name"], "precision": p, **json.loads(out.read_text())})
    return found


def exactness(a, rows: list[dict], device: torch.device, conll: Path, brown: Path) -> list[dict]:
    """Evaluate parity (device vs CPU) of the 32-true checkpoints, and stop/resume equality per task."""
    checks, acc = [], "gpu" if device.type == "cuda" else "cpu"
    for r in rows:
        if r["precision"] == "32-true" and r["model"] in ("lm-2x650", "tagger-conll2003"):
            ckpt = next(Path(r["run"], "checkpoints").glob("step-*.ckpt"))
            res = evaluate_parity(ckpt, acc, a.work)
            checks.append({"check": f"evaluate {r['model']}: {acc} vs cpu (rel 1e-4)", "ok": res["ok"],
                           "value": f"max rel diff {res['max_rel_diff']:.1e} ({res['worst_key']})"})  # fmt: skip
    steps, every = (12, 2) if a.dry_run else (300, 20)
    tasks = (
        ("lm", "conf/lm/demo.yaml", brown, ["--data.batch_size", "16", "--model.hidden_size", "64"]),
        ("tagger", "conf/tagger/demo.yaml", conll, ["--data.conll_tag_index", "-1"]),
    )
    for task, conf, data, extra in tasks[:1] if a.dry_run else tasks:  # the dry run: the LM only
        runs = a.work / f"resume-{task}"
        args = ["train", "--config", str(ROOT / conf), "--data.path", str(data), "--data.cache_dir", str(a.work / "cache"),
                "--runs_dir", str(runs), "--trainer.deterministic", "true", "--trainer.max_steps", str(steps),
                "--trainer.max_epochs", "-1", "--trainer.accelerator", acc, "--trainer.limit_val_batches", "2",
                "--trainer.limit_test_batches", "2", "--trainer.val_check_interval", str(every * 3),
                "--checkpoint.every_n_train_steps", str(every), "--trainer.enable_progress_bar", "false",
                "--wandb.mode", "disabled", *extra]  # fmt: skip
        res = resume_equal(args, runs, every)
        value = res.get("why") or f"{res['tensors']} tensors equal; {res['stop']}"
        checks.append({"check": f"{task}: SIGTERM + resume == uninterrupted on {acc} (deterministic)",
                       "ok": res["ok"], "value": value if res["ok"] else f"{value} differ: {res.get('differ')}"})  # fmt: skip
    return checks


def ddp(a, device: torch.device) -> list[dict]:
    """With 2+ GPUs: NCCL DDP training and 1-vs-N evaluate parity; otherwise the reason it did not run."""
    n = torch.cuda.device_count() if device.type == "cuda" else 0
    if n < 2:
        return [{"check": "DDP (NCCL)", "ok": None, "value": f"not run: {n} GPU(s) visible; needs 2 or more"}]
    runs = a.work / "ddp"
    cli(["train", "--config", str(ROOT / "conf/lm/demo.yaml"), "--data.path", str(a.brown), "--runs_dir", str(runs),
         "--name", "ddp", "--data.cache_dir", str(a.work / "cache"), "--trainer.accelerator", "gpu",
         "--trainer.devices", str(n), "--trainer.strategy", "ddp", "--trainer.max_steps", "40",
         "--checkpoint.every_n_train_steps", "40", "--trainer.limit_val_batches", "2", "--wandb.mode", "disabled",
         "--trainer.enable_progress_bar", "false"])  # fmt: skip
    ckpt = next((runs / "ddp" / "checkpoints").glob("step-*.ckpt"))
    res = evaluate_parity(ckpt, "gpu", a.work, devices=n)
    return [{"check": f"DDP: {n}-GPU NCCL training ran; evaluate on {n} GPUs vs 1 CPU process (rel 1e-4)",
             "ok": res["ok"], "value": f"max rel diff {res['max_rel_diff']:.1e} ({res['worst_key']})"}]  # fmt: skip


def main(a) -> int:
    started = time.perf_counter()
    device = torch.device("cpu" if a.dry_run or not torch.cuda.is_available() else "cuda")
    if device.type == "cpu" and not a.dry_run:
        print("No CUDA device is visible: run with --dry-run for the CPU rehearsal.")
        return 2
    if a.dry_run:
        a.steps, a.warmup, a.repeats = min(a.steps, 4), min(a.warmup, 2), 1
    a.work = Path(a.work or tempfile.mkdtemp(prefix="gpu-check-")).resolve()
    a.runs = a.work / "runs"
    info = versions(device)
    print("\n".join(f"{k}: {v}" for k, v in info.items()), flush=True)
    brown, conll, source = gpu_data.corpora(
        Path(a.data).resolve() if a.data else None, a.work, 0.01 if a.dry_run else 1.0
    )
    a.brown = brown
    precs, skipped = precisions(device, a.dry_run)
    if a.precisions:
        skipped |= {p: "not asked for (--precisions)" for p in precs if p not in a.precisions}
        precs = [p for p in precs if p in a.precisions]
    out, rows, checks, crf, waits = Path(a.out), [], [], [], []

    def save() -> None:  # after every phase, so a run cut off by its time limit still leaves its figures
        gpu_report.write(
            out, info, source, rows, skipped, checks, crf, waits, (time.perf_counter() - started) / 60, a
        )

    jobs = _jobs(a, brown, conll, device)
    if not a.syncs_only:
        rows += throughput(a, jobs, precs)
        checks += precision_checks(rows)
        save()
    waits += syncs(a, jobs, precs)
    save()
    if a.syncs_only:
        return 0
    if a.throughput_only:
        return 1 if any(c["ok"] is False for c in checks) else 0
    shapes = [(8, 12, 5), (4, 1, 3)] if a.dry_run else crf_speed.SHAPES
    crf += [crf_speed.compare(b, n, k, device, repeats=3 if a.dry_run else 7) for b, n, k in shapes]
    checks += [{"check": f"CRF scan == loop (B={r['B']}, L={r['L']}, K={r['K']})", "ok": r["viterbi_equal"]
                and r["nll_max_abs_diff"] < 1e-2 and r["grad_max_abs_diff"] < 1e-3,
                "value": f"NLL {r['nll_max_abs_diff']:.1e}, grad {r['grad_max_abs_diff']:.1e}"} for r in crf]  # fmt: skip
    save()
    checks += exactness(a, rows, device, conll, brown)
    save()
    checks += ddp(a, device)
    save()
    minutes = (time.perf_counter() - started) / 60
    failed = [c for c in checks if c["ok"] is False]
    print(
        f"GPU check: {len(checks) - len(failed)} of {len(checks)} checks passed or reported, "
        f"{len(failed)} failed, {minutes:.1f} min -> {out}/report.md",
        flush=True,
    )
    return 1 if failed else 0
