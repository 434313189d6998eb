"""`export --format folder`: safetensors + vocabularies + card, loading back to bitwise-equal outputs; the model card."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml

import pipeline
from pipeline.__main__ import main
from tests.tiny_models import train_lm, train_tagger


@pytest.fixture(scope="module")
def tagger_run(tmp_path_factory) -> Path:
    return train_tagger(tmp_path_factory.mktemp("export-tagger"), char_encoder="lstm")


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    return train_lm(tmp_path_factory.mktemp("export-lm"))


def export(ckpt: Path, out: Path, fmt: str = "folder") -> Path:
    assert main(["export", str(ckpt), "--format", fmt, "--output", str(out)]) == 0
    return out


def test_tagger_folder_loads_to_bitwise_equal_emissions_and_tags(tagger_run, tmp_path):
    ckpt = tagger_run / "checkpoints" / "best.ckpt"
    folder = export(ckpt, tmp_path / "tagger")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            "model.safetensors",
            "config.json",
            "config.yaml",
            "README.md",
            "words.json",
            "chars.json",
            "tags.json",
        ]
    )
    a, b = pipeline.load(ckpt), pipeline.load(folder)
    for key, value in a.module.state_dict().items():
        assert torch.equal(value, b.module.state_dict()[key]), key
    sentences = [
        "John lives in Paris .",
        "Yesterday Anna joined Initech Corp",
        "Zork",
        "a b c d e f g h i j k",
    ]
    a.dm.set_predict_sentences([s.split() for s in sentences])
    batch = next(iter(a.dm.predict_dataloader()))
    with torch.no_grad():
        assert torch.equal(a.module.model.emissions(batch), b.module.model.emissions(batch))
    assert a.tag(sentences) == b.tag(sentences)


def test_lm_folder_loads_to_bitwise_equal_log_probs_and_evaluates_alike(lm_run, tmp_path):
    ckpt = lm_run / "checkpoints" / "best.ckpt"
    folder = export(ckpt, tmp_path / "lm")
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json", "config.yaml", "README.md",
                                                  "tokenizer.json"}  # fmt: skip
    a, b = pipeline.load(ckpt), pipeline.load(folder)
    tokens = torch.randint(0, a.model.vocab_size, (3, 17), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(a.model(tokens)[0], b.model(tokens)[0])
    texts = ["w1 w2 w3 w4", "w9\nw8 w7"]
    assert a.log_prob(texts) == b.log_prob(texts)
    assert a.generate("w3", max_tokens=20, seed=1) == b.generate("w3", max_tokens=20, seed=1)
    scores = []
    for source in (ckpt, folder):
        out = tmp_path / f"{source.name}.json"
        assert (
            main(["evaluate", str(source), "--output", str(out), "--trainer.enable_progress_bar", "false"])
            == 0
        )
        scores.append(json.loads(out.read_text())["ppl"])
    assert scores[0] == scores[1]


def test_model_card_holds_the_runs_test_metrics_and_travels_with_the_export(tagger_run, tmp_path):
    card = (tagger_run / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    metrics = json.loads((tagger_run / "metrics.json").read_text())
    results = {r["dataset"]["split"]: {m["type"]: m["value"] for m in r["metrics"]}
               for r in front["model-index"][0]["results"]}  # fmt: skip
    assert results["test"]["f1"] == pytest.approx(metrics["test"]["f1"], abs=1e-6)
    assert results["validation"]["f1"] == pytest.approx(metrics["val"]["f1"], abs=1e-6)
    assert front["model-index"][0]["results"][0]["task"]["type"] == "token-classification"
    for name, row in metrics["test"]["per_type"].items():  # the per-type table
        assert f"| {name} | {row['precision']:.2f} | {row['recall']:.2f} | {row['f1']:.2f} |" in card
    for fact in (
        "- data fingerprint: tagging-",
        "- hardware: ",
        "- wall time: ",
        "python -m pipeline evaluate",
    ):
        assert fact in card
    assert (tagger_run / "config.yaml").read_text().rstrip() in card
    folder = export(tagger_run / "checkpoints" / "best.ckpt", tmp_path / "out")
    assert (folder / "README.md").read_text() == card


def test_evaluate_refreshes_the_card(lm_run, tmp_path):
    ckpt = lm_run / "checkpoints" / "last.ckpt"
    out = tmp_path / "val.json"
    args = ["evaluate", str(ckpt), "--split", "validation", "--data.eval_batch_size", "1", "--output", str(out),
            "--trainer.enable_progress_bar", "false"]  # fmt: skip
    assert main(args) == 0
    card = (lm_run / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    results = {r["dataset"]["split"]: {m["type"]: m["value"] for m in r["metrics"]}
               for r in front["model-index"][0]["results"]}  # fmt: skip
    assert results["validation"]["perplexity"] == pytest.approx(json.loads(out.read_text())["ppl"], rel=1e-6)
    assert f"- checkpoint: {ckpt}" in card
    assert "- hardware: " in card  # kept from training


def test_export_refuses_a_folder_of_other_files(lm_run, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export", str(lm_run / "checkpoints" / "best.ckpt"), "--output", str(tmp_path)]) == 2
    assert "holds files an export does not write" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_evaluate_on_other_data_leaves_the_card_as_it_was(tagger_run, tmp_path, capsys):
    ckpt = tagger_run / "checkpoints" / "last.ckpt"  # a refresh would name it in the card
    card = (tagger_run / "README.md").read_text()
    few = tmp_path / "few.txt"  # three sentences of the run's own test split: other data all the same
    few.write_text(
        "\n\n".join((tagger_run.parent.parent / "ner" / "test.txt").read_text().split("\n\n")[1:4]) + "\n"
    )
    out = tmp_path / "few.json"
    assert main(["evaluate", str(ckpt), "--data.test_files", str(few), "--output", str(out),
                 "--trainer.enable_progress_bar", "false"]) == 0  # fmt: skip
    assert json.loads(out.read_text())["f1"] >= 0
    assert "Scored with other data settings than the run's (data.test_files)" in capsys.readouterr().out
    assert (tagger_run / "README.md").read_text() == card
    assert main(["evaluate", str(ckpt), "--data.cache_dir", str(tmp_path / "cache"), "--data.eval_batch_size", "2",
                 "--trainer.enable_progress_bar", "false"]) == 0  # the run's own data, read another way  # fmt: skip
    assert f"- checkpoint: {ckpt}" in (tagger_run / "README.md").read_text()
    assert "other data" not in capsys.readouterr().out
    corpus = tagger_run.parent.parent / "ner"
    respelled = os.path.relpath(corpus / ".." / "ner")  # the same folder, named another way
    assert main(["evaluate", str(tagger_run / "checkpoints" / "best.ckpt"), "--data.path", respelled,
                 "--trainer.enable_progress_bar", "false"]) == 0  # fmt: skip
    assert "other data" not in capsys.readouterr().out
    assert (
        "- checkpoint: " + str(tagger_run / "checkpoints" / "best.ckpt")
        in (tagger_run / "README.md").read_text()
    )
