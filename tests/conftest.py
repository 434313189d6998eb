"""Shared fixtures: an offline, sandboxed environment, a tiny synthetic corpus, and CLI overrides for tiny runs.

Task-specific test files add their own corpora; what lives here is what every end-to-end test needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "TOKENIZERS_PARALLELISM": "false",
}
# huggingface_hub and datasets read the offline switches once, when first imported, and a test module may
# import them before any fixture runs: set them now so no test can ever reach the network.
os.environ.update({k: v for k, v in OFFLINE_ENV.items() if k.startswith("HF_")})


@pytest.fixture(scope="session", autouse=True)
def offline_env(tmp_path_factory: pytest.TempPathFactory):
    """Offline Hub and W&B, with every library cache in a temporary folder (never in the home directory)."""
    import datasets
    import torch

    home = tmp_path_factory.mktemp("env")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in OFFLINE_ENV.items():
            mp.setenv(key, value)
        mp.setenv("HF_DATASETS_CACHE", str(home / "hf-datasets"))
        # datasets read HF_DATASETS_CACHE at import; the module attribute is what load_dataset uses.
        mp.setattr(datasets.config, "HF_DATASETS_CACHE", home / "hf-datasets")
        for key in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
            mp.setenv(key, str(home / key.lower()))
        # Tiny models run fastest on one thread, and a busy machine makes OpenMP's thread barriers crawl.
        mp.setenv("OMP_NUM_THREADS", "1")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        mp.delenv("WANDB_API_KEY", raising=False)
        mp.delenv("PIPELINE_VERBOSE", raising=False)
        yield home
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def own_wandb_service():
    """Each `python -m pipeline` subprocess starts its own W&B service, as a user's command does.

    An in-process `wandb.init` (a test calling `main` directly) leaves its service's address in
    os.environ as WANDB_SERVICE; a subprocess inheriting it would write its run through this process's
    service, which outlives the subprocess and keeps a killed run's stream (and its id) open.
    """
    os.environ.pop("WANDB_SERVICE", None)
    yield
    os.environ.pop("WANDB_SERVICE", None)


def write_hmm_corpus(folder: Path, tokens: int = 3000, seed: int = 0) -> dict[str, float]:
    """train/valid/test.txt sampled from a small random HMM (words `w1`..`w39`, some blank lines)."""
    from data_modules.synthetic import random_hmm, write_lm_corpus

    small = max(tokens // 5, 200)
    sizes = {"train": tokens, "validation": small, "test": small}
    return write_lm_corpus(folder, random_hmm(num_states=4, vocab_size=40, seed=seed), sizes, seed)


@pytest.fixture(scope="session")
def lm_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with train.txt (3000 tokens), valid.txt and test.txt (600 each). Shared: copy before editing."""
    folder = tmp_path_factory.mktemp("lm-corpus")
    write_hmm_corpus(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm_args() -> Callable[..., list[str]]:
    """`tiny_lm_args(work, corpus, name="tiny", recipe="demo")`: `train` arguments for a run of a few seconds.

    The recipe's model is shrunk to 16 units, the caches and runs go to `work`, W&B is disabled
    (append `--wandb.mode offline` to test it) and the progress bar is off.
    """

    def args(work: Path, corpus: Path, name: str = "tiny", recipe: str = "demo") -> list[str]:
        return [
            "--config", str(CONF / "lm" / f"{recipe}.yaml"),
            "--data.path", str(corpus),
            "--data.cache_dir", str(work / "cache"),
            "--data.batch_size", "4",
            "--data.eval_batch_size", "3",
            "--data.bptt", "20",
            "--model.embedding_size", "16",
            "--model.hidden_size", "16",
            "--model.num_layers", "1",
            "--trainer.max_epochs", "1",
            "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false",
            "--trainer.log_every_n_steps", "5",
            "--trainer.accelerator", "cpu",
            "--trainer.devices", "1",
            "--wandb.mode", "disabled",
            "--runs_dir", str(work / "runs"),
            "--name", name,
        ]  # fmt: skip

    return args


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """`run_cli(*args, cwd=...)`: `python -m pipeline ARGS` in a fresh interpreter, output captured."""

    def run(
        *args: str,
        cwd: Path | None = None,
        timeout: float = 120,
        stdin: str | None = None,
        env: dict | None = None,
    ) -> subprocess.CompletedProcess:
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        )
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            cwd=cwd or ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )

    return run
