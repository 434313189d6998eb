"""Two nodes simulated on this machine (`torchrun --nnodes 2` on localhost, one process each, gloo): the data cache
on a shared filesystem is prepared once for the job; on node-local disks (each node's command names its own
`--data.cache_dir`) each node prepares its own copy. Either way the run equals the one-node, two-process run.

No flag is needed for node-local disks: every cache entry is built under its own lock by whichever process comes
first (data_modules/entries.py), so the first process of each node builds that node's copy and the others wait."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.test_distributed import REPO, TINY_LM, cli_env, corpus, ddp_run  # noqa: F401 (fixtures)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(folder, tmp_path, caches: tuple[str, str]) -> list[str]:
    """Both nodes' torchrun commands at once; returns their outputs."""
    port = str(free_port())
    procs = []
    for node, cache in enumerate(caches):
        args = [*TINY_LM, "--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.num_nodes", "2",
                "--trainer.strategy", "ddp", "--data.path", str(folder), "--data.cache_dir", str(tmp_path / cache),
                "--runs_dir", str(tmp_path / "runs"), "--name", "nodes", "--wandb.mode", "disabled"]  # fmt: skip
        launcher = ["--nnodes", "2", "--node-rank", str(node), "--nproc-per-node", "1",
                    "--master-addr", "127.0.0.1", "--master-port", port]  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", *launcher, "-m", "pipeline", "train", *args],
            cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    return outs


@pytest.mark.parametrize("layout", ["shared", "node-local"])
def test_two_nodes_prepare_the_cache_once_per_filesystem(layout, corpus, ddp_run, tmp_path):  # noqa: F811
    folder, _ = corpus
    caches = ("cache", "cache") if layout == "shared" else ("cache-node0", "cache-node1")
    outs = two_nodes(folder, tmp_path, caches)
    built = [out.count("Training a word tokenizer") for out in outs]
    # Once for the job on a shared filesystem; once on each node with node-local caches.
    assert sum(built) == 1 if layout == "shared" else built == [1, 1]
    for cache in set(caches):
        assert len(list((tmp_path / cache).glob("ids-*.npy"))) == 3
    if layout == "node-local":  # the two copies are the same data
        a, b = (sorted((tmp_path / c).glob("ids-*.npy")) for c in caches)
        assert [p.name for p in a] == [p.name for p in b]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))
    metrics = json.loads((tmp_path / "runs" / "nodes" / "metrics.json").read_text())
    assert metrics["test"]["ppl"] == pytest.approx(ddp_run["metrics"]["test"]["ppl"], rel=1e-6)
