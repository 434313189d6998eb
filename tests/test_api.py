"""`pipeline.load`: the Python API gives what the CLI gives (predict's tags, evaluate's perplexity)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import pipeline
from data_modules.tag_schemes import chunks
from pipeline.__main__ import main
from pipeline.errors import PipelineError
from tests.tiny_models import train_lm, train_tagger


@pytest.fixture(scope="module")
def tagger_run(tmp_path_factory) -> Path:
    return train_tagger(tmp_path_factory.mktemp("api-tagger"))


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    return train_lm(tmp_path_factory.mktemp("api-lm"))


def predicted_file(path: Path) -> list[list[str]]:
    sentences, current = [], []
    for line in path.read_text().splitlines():
        if line:
            current.append(line.split()[-1])
        else:
            sentences.append(current)
            current = []
    return sentences


def test_tag_equals_what_predict_writes_for_the_same_file(tagger_run, tmp_path):
    text = tmp_path / "in.txt"
    lines = [
        "John lives in Paris .",
        "Yesterday Mary Smith joined Acme Corp",
        "Globex Corp opened an office in Oslo",
        "Louise said that well",
        "Unknownword Zork went to Berlin",
    ] * 7  # 35 sentences: several batches of predict's eval_batch_size (16)
    text.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.txt"
    ckpt = tagger_run / "checkpoints" / "best.ckpt"
    args = [
        "predict",
        str(ckpt),
        "--input",
        str(text),
        "--output",
        str(out),
        "--trainer.enable_progress_bar",
        "false",
    ]
    assert main(args) == 0
    tagger = pipeline.load(ckpt)
    from_file = predicted_file(out)
    assert tagger.tag(lines) == from_file
    assert tagger.tag([line.split() for line in lines]) == from_file
    spans = tagger.spans(lines)
    assert [[(s.type, s.start, s.end) for s in row] for row in spans] == [
        chunks(t, "iob2") for t in from_file
    ]
    for row, line in zip(spans, lines):
        for s in row:
            assert s.text == " ".join(line.split()[s.start : s.end])


def test_perplexity_equals_evaluate_on_the_same_text(lm_run, tmp_path):
    ckpt = lm_run / "checkpoints" / "best.ckpt"
    corpus = Path(yaml.safe_load((lm_run / "config.yaml").read_text())["data"]["path"])
    out = tmp_path / "eval.json"
    args = ["evaluate", str(ckpt), "--split", "test", "--data.eval_batch_size", "1", "--output", str(out),
            "--trainer.enable_progress_bar", "false"]  # fmt: skip
    assert main(args) == 0
    evaluated = json.loads(out.read_text())
    lines = (corpus / "test.txt").read_text().split("\n")[:-1]  # the file ends with a newline
    lm = pipeline.load(ckpt)
    assert lm.perplexity(lines) == pytest.approx(evaluated["ppl"], rel=1e-6)
    assert sum(len(lm.encode(t)) for t in lines) == evaluated["tokens"]


def test_log_prob_scores_each_text_on_its_own(lm_run):
    """Batched scores equal one-at-a-time scores, and a text's log-probability is its perplexity's log."""
    import math

    lm = pipeline.load(lm_run / "checkpoints" / "best.ckpt", want="lm")
    texts = ["w1 w2 w3", "w5", "w7 w7 w7 w7 w7 w7 w7 w7 w9\nw2 w3"]
    together = lm.log_prob(texts)
    alone = [lm.log_prob([t])[0] for t in texts]
    assert together == pytest.approx(alone, rel=1e-5)
    for text, lp in zip(texts, together):
        assert lp < 0
        assert math.exp(-lp / len(lm.encode(text))) == pytest.approx(lm.perplexity([text]), rel=1e-5)


def test_generate_is_what_the_cli_prints(lm_run, capsys):
    ckpt = lm_run / "checkpoints" / "best.ckpt"
    assert main(["generate", str(ckpt), "--prompt", "w1 w2", "--max-tokens", "12", "--seed", "3"]) == 0
    printed = capsys.readouterr().out.rstrip("\n")
    assert pipeline.load(ckpt).generate("w1 w2", max_tokens=12, seed=3) == printed


def test_load_refuses_the_wrong_task_and_a_foreign_folder(lm_run, tmp_path):
    with pytest.raises(PipelineError, match="needs a tagger"):
        pipeline.load(lm_run / "checkpoints" / "best.ckpt", want="tagger")
    with pytest.raises(PipelineError, match="not an exported model"):
        pipeline.load(tmp_path)
