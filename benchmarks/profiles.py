"""Profile evidence for rows that miss their target: where the time goes, from cProfile, not a guess."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable


def _stats(fn: Callable[[], object]) -> pstats.Stats:
    prof = cProfile.Profile()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    return pstats.Stats(prof)


def _name(key: tuple[str, int, str]) -> str:
    file, line, func = key
    short = "/".join(file.split("/")[-2:]) if "/" in file else file
    return f"{func} ({short}:{line})" if line else func


def top(fn: Callable[[], object], n: int = 8) -> str:
    """The `n` functions with the most self time while `fn` runs: 'self s, name' per line."""
    st = _stats(fn).stats  # {key: (cc, nc, tottime, cumtime, callers)}
    total = sum(v[2] for v in st.values()) or 1e-12
    rows = sorted(st.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    return "; ".join(f"{v[2]:.3f} s ({100 * v[2] / total:.0f}%) {_name(k)}" for k, v in rows)


def overhead(ours: Callable[[], object], baseline: Callable[[], object], n: int = 8) -> str:
    """Functions whose self time grows most from the baseline to ours (same steps): the overhead's sources."""
    a, b = _stats(ours).stats, _stats(baseline).stats
    total_a, total_b = sum(v[2] for v in a.values()), sum(v[2] for v in b.values())
    diff = {k: v[2] - (b[k][2] if k in b else 0.0) for k, v in a.items()}
    rows = sorted(diff.items(), key=lambda kv: kv[1], reverse=True)[:n]
    head = f"cProfile total self time {total_a:.2f} s (ours, incl. setup) vs {total_b:.2f} s (bare); largest growth: "
    return head + "; ".join(f"+{d:.3f} s {_name(k)} ({a[k][1]} calls)" for k, d in rows)
