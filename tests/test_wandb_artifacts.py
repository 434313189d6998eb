"""`--wandb.log_model`: an offline W&B run records the checkpoint (and the model card) as a model artifact with
the aliases best/latest/step-N, and the data's fingerprint in its config; `wandb sync` would upload it later."""

from __future__ import annotations

import base64
import hashlib
import json

from tests.test_cli import wandb_records
from tests.tiny_models import lm_args


def test_offline_run_records_the_best_checkpoint_as_a_model_artifact(tmp_path, lm_corpus, run_cli):
    args = lm_args(tmp_path, lm_corpus, "logged")
    done = run_cli("train", *args, "--wandb.mode", "offline", "--wandb.log_model", "best", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "runs" / "logged"
    (wandb_file,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    records = list(wandb_records(wandb_file))
    artifacts = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert len(artifacts) == 1
    artifact = artifacts[0]
    run_id = (run_dir / "wandb_id").read_text().strip()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (artifact.type, artifact.name) == ("model", f"model-{run_id}")
    assert set(artifact.aliases) == {"best", "latest", f"step-{metrics['global_step']}"}
    entries = {e.path: e.digest for e in artifact.manifest.contents}
    assert set(entries) == {"best.ckpt", "README.md"}
    best = (run_dir / "checkpoints" / "best.ckpt").read_bytes()
    assert entries["best.ckpt"] == base64.b64encode(hashlib.md5(best).digest()).decode()
    assert json.loads(artifact.metadata)["test"]["ppl"] == metrics["test"]["ppl"]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["data_fingerprint"].startswith("ids-")
    assert f"- data fingerprint: {config['data_fingerprint']}" in (run_dir / "README.md").read_text()
    assert config["wandb"]["log_model"] == "best"


def test_no_artifact_by_default():
    from pipeline import config as configs
    from pipeline.tasks import TASKS

    for task in TASKS.values():
        assert configs.train_parser(task).get_defaults().wandb.log_model is False
