"""CRF loop vs scan (models/crf.py): equality and time of log Z + backward and of Viterbi, on any device.

`python -m benchmarks.crf_speed [--device cuda]` prints a table; the GPU check calls `compare`.
Times are medians of interleaved repeats, with the device synchronised around each timed call.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from models.crf import CRF


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _case(b: int, length: int, k: int, device: torch.device, seed: int = 0):
    """Emissions (B, L, K), tags (B, L), mask (B, L) with lengths between L/2 and L, like a bucketed batch."""
    g = torch.Generator().manual_seed(seed)
    em = 3 * torch.randn(b, length, k, generator=g)
    lengths = torch.randint(max(1, length // 2), length + 1, (b,), generator=g)
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    tags = torch.randint(0, k, (b, length), generator=g) * mask
    return em.to(device), tags.to(device), mask.to(device)


def _time(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def compare(b: int, length: int, k: int, device: torch.device, repeats: int = 7) -> dict[str, float]:
    """Milliseconds of both formulations (median of `repeats`) and their largest differences."""
    torch.manual_seed(0)
    loop = CRF(k).to(device)
    scan = CRF(k).to(device)
    scan.load_state_dict(loop.state_dict())
    loop.scan, scan.scan = False, True
    em, tags, mask = _case(b, length, k, device)

    def train_step(crf: CRF):
        e = em.clone().requires_grad_(True)
        crf.nll(e, tags, mask).sum().backward()
        return e.grad

    out = {"B": b, "L": length, "K": k}
    grads = {name: train_step(m) for name, m in (("loop", loop), ("scan", scan))}  # also the warm-up
    paths = {name: m.viterbi(em, mask) for name, m in (("loop", loop), ("scan", scan))}
    with torch.no_grad():
        out["nll_max_abs_diff"] = float((loop.nll(em, tags, mask) - scan.nll(em, tags, mask)).abs().max())
    out["grad_max_abs_diff"] = float((grads["loop"] - grads["scan"]).abs().max())
    out["viterbi_equal"] = bool(torch.equal(paths["loop"], paths["scan"]))
    times: dict[str, list[float]] = {f"{n}_{w}_ms": [] for n in ("loop", "scan") for w in ("nll", "viterbi")}
    for r in range(repeats):
        for name, m in (("loop", loop), ("scan", scan)) if r % 2 == 0 else (("scan", scan), ("loop", loop)):
            times[f"{name}_nll_ms"].append(1000 * _time(lambda m=m: train_step(m), device))
            times[f"{name}_viterbi_ms"].append(1000 * _time(lambda m=m: m.viterbi(em, mask), device))
    out.update({key: statistics.median(v) for key, v in times.items()})
    return out


def table(rows: list[dict]) -> str:
    """Markdown: one line per shape, loop vs scan milliseconds and the equality figures."""
    head = "| B | L | K | log Z + backward: loop / scan ms | Viterbi: loop / scan ms | max abs diff NLL, grad | Viterbi equal |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['B']} | {r['L']} | {r['K']} | {r['loop_nll_ms']:.2f} / {r['scan_nll_ms']:.2f} | "
            f"{r['loop_viterbi_ms']:.2f} / {r['scan_viterbi_ms']:.2f} | "
            f"{r['nll_max_abs_diff']:.1e}, {r['grad_max_abs_diff']:.1e} | {r['viterbi_equal']} |"
        )
    return "\n".join(lines)


SHAPES = [(32, 30, 17), (32, 60, 17), (32, 120, 17), (32, 60, 9), (32, 60, 20), (256, 60, 17)]
"""B, L, K: the CoNLL recipe's training batch (17 BIOES tags, lengths up to ~120) and evaluation batch."""


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.crf_speed")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=7)
    a = p.parse_args()
    print(table([compare(b, n, k, torch.device(a.device), a.repeats) for b, n, k in SHAPES]))


if __name__ == "__main__":
    main()
