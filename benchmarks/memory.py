"""Wall time and peak memory of a command run as a child process (Linux /proc and wait4)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    seconds: float
    """Wall time of the whole process (interpreter start and imports included)."""
    peak_tree_rss: float
    """Largest sum of VmRSS over the process and its descendants (sampled), bytes."""
    peak_tree_anon: float
    """Largest sum of RssAnon (memory not backed by files, i.e. objects) over the tree (sampled), bytes."""
    peak_tree_pss: float
    """Largest sum of Pss (each shared page divided among the processes sharing it) over the tree (sampled),
    bytes: what the tree holds in all, where summed RSS counts a forked worker's inherited pages twice."""
    max_rss: float
    """ru_maxrss from wait4: the largest single process of the tree, bytes."""
    returncode: int


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _status(pid: int) -> tuple[int, int]:
    rss = anon = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return rss, anon


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def run(cmd: list[str], env: dict[str, str] | None = None, interval: float = 0.05) -> Measured:
    """Run `cmd`, sampling the memory of its process tree every `interval` seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = {"rss": 0, "anon": 0, "pss": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            sizes = [_status(p) for p in pids]
            peak["rss"] = max(peak["rss"], sum(s[0] for s in sizes))
            peak["pss"] = max(peak["pss"], sum(_pss(p) for p in pids))
            peak["anon"] = max(peak["anon"], sum(s[1] for s in sizes))
            done.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{err.decode(errors='replace')[-3000:]}")
    return Measured(seconds, peak["rss"], peak["anon"], peak["pss"], usage.ru_maxrss * 1024, code)
