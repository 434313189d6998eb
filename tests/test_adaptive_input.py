"""Adaptive input embeddings tied to the adaptive softmax's clusters (Baevski & Auli 2019)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from models.errors import ModelConfigError
from models.lm_features import LMEmbedder
from models.lm_lit_module import LMLitModule
from models.lstm_lm import LMConfig, LSTMLanguageModel
from models.optim import OptimConfig
from pipeline.__main__ import main as cli
from pipeline.trainer import cpu_bf16_lstm_works

V, CUTS = 11, [4, 8]  # head: ids 0-3, tail cluster 0: 4-7, tail cluster 1: 8-10


def cfg(**kw) -> LMConfig:
    base = dict(embedding_size=16, hidden_size=16, num_layers=1, dropout=0.0, embedding_dropout=0.0,
                layer_dropout=0.0, tie_weights=False, softmax="adaptive", cutoffs=CUTS, div_value=2.0,
                adaptive_input=True)  # fmt: skip
    return LMConfig(**(base | kw))


def by_hand(model: LSTMLanguageModel, token: int) -> torch.Tensor:
    """The input vector of one token, read off the softmax's weights one token at a time: a head word's row of
    the head matrix; a tail word's row of its cluster's output matrix times the cluster's projection."""
    head = model.head
    if token < CUTS[0]:
        return head.head.weight[token]
    cluster = 0 if token < CUTS[1] else 1
    first = CUTS[cluster]
    projection, output = head.tail[cluster]
    return torch.stack(
        [
            sum(
                output.weight[token - first, k] * projection.weight[k, j]
                for k in range(output.weight.size(1))
            )
            for j in range(16)
        ]  # fmt: skip
    )


def test_each_word_vector_is_its_clusters_row_projected_back():
    torch.manual_seed(0)
    model = LSTMLanguageModel(cfg(), V).double()
    tokens = torch.tensor([[3, 4, 7, 8], [10, 0, 5, 9]])
    with torch.no_grad():
        got = model.embed(tokens)
        expected = torch.stack([torch.stack([by_hand(model, int(t)) for t in row]) for row in tokens])
    assert got.shape == (2, 4, 16)
    assert torch.allclose(got, expected, atol=1e-12, rtol=0)
    # Narrower vectors for rarer clusters: 16 -> 8 -> 4 wide before the projection.
    assert [t[1].weight.shape[1] for t in model.head.tail] == [8, 4]


def test_no_embedding_matrix_and_the_input_side_trains_the_shared_weights():
    torch.manual_seed(0)
    shared = LSTMLanguageModel(cfg(), V)
    separate = LSTMLanguageModel(cfg(adaptive_input=False), V)
    assert not hasattr(shared, "encoder")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(separate) - count(shared) == V * 16
    # A loss on the input vectors of cluster 1's words reaches that cluster's output rows and projection only.
    shared.embed(torch.tensor([[8, 10]])).sum().backward()
    projection, output = shared.head.tail[1]
    assert output.weight.grad[[0, 2]].abs().sum() > 0 and output.weight.grad[1].abs().sum() == 0
    assert projection.weight.grad.abs().sum() > 0
    assert shared.head.head.weight.grad is None or shared.head.head.weight.grad.abs().sum() == 0
    assert shared.head.tail[0][1].weight.grad is None or shared.head.tail[0][1].weight.grad.abs().sum() == 0


def test_the_model_is_still_an_exact_distribution():
    torch.manual_seed(0)
    model = LSTMLanguageModel(cfg(), V).double().eval()
    with torch.no_grad():
        scores, _ = model(torch.randint(0, V, (3, 7)))
    assert torch.allclose(scores.exp().sum(-1), torch.ones(3, 7, dtype=torch.float64), atol=1e-12, rtol=0)


def test_a_bf16_autocast_step_trains_every_cluster_from_both_sides():
    torch.manual_seed(0)
    lm = LMLitModule(cfg(), OptimConfig(name="adam", lr=0.01), V)
    tokens = torch.tensor([[0, 5, 9, 1, 2, 3, 0]])  # inputs from all three clusters, targets too
    b = {"input": tokens[:, :-1], "target": tokens[:, 1:], "mask": torch.ones(1, 6, dtype=torch.bool)}
    with (
        torch.backends.mkldnn.flags(enabled=cpu_bf16_lstm_works()),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        loss = lm.training_step(b, 0)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in lm.model.head.tail.parameters())


def test_configuration_errors_are_one_readable_line():
    with pytest.raises(ModelConfigError, match="set model.softmax=adaptive \\(got full\\)") as e:
        LSTMLanguageModel(cfg(softmax="full"), V)
    assert "\n" not in str(e.value)
    with pytest.raises(ModelConfigError, match="embedding_size == model.hidden_size \\(got 8 and 16\\)"):
        LSTMLanguageModel(cfg(embedding_size=8), V)


def test_a_tagger_reads_features_from_an_adaptive_input_lm():
    torch.manual_seed(0)
    spec = {"unit": "word", "config": vars(cfg()), "vocab": {f"w{i}": i for i in range(V)}}
    embedder = LMEmbedder(spec).eval()
    ids = torch.tensor([[1, 5, 9, 2]])
    features = embedder(ids, torch.tensor([[1, 3]]))
    states, _ = embedder.lm.eval().features(ids)
    assert torch.allclose(features, states[:, [1, 3]], atol=1e-6)
    assert isinstance(embedder.lm.head.tail[0][0], nn.Linear)


def test_train_evaluate_generate_with_adaptive_input(tmp_path, lm_corpus, tiny_lm_args, capsys):
    extra = ["--model.softmax", "adaptive", "--model.tie_weights", "false", "--model.cutoffs", "[5, 15]",
             "--model.adaptive_input", "true"]  # fmt: skip
    assert cli(["train", *tiny_lm_args(tmp_path, lm_corpus), *extra]) == 0
    run = tmp_path / "runs" / "tiny"
    metrics = json.loads((run / "metrics.json").read_text())
    best = run / "checkpoints" / "best.ckpt"
    state = torch.load(best, weights_only=True)["state_dict"]
    assert not any(".encoder." in k for k in state) and "model.head.tail.1.1.weight" in state
    out = tmp_path / "test.json"
    assert cli(["evaluate", str(best), "--output", str(out), "--trainer.enable_progress_bar", "false"]) == 0
    result = json.loads(out.read_text())
    assert result["perplexity"] == pytest.approx(metrics["test"]["perplexity"], rel=1e-5)
    assert result["perplexity"] < 40  # it learned something: a uniform guess over ~42 words is ~42
    capsys.readouterr()
    assert cli(["generate", str(best), "--prompt", "w3", "--max-tokens", "20", "--seed", "1"]) == 0
    text = capsys.readouterr().out.split()
    assert text[0] == "w3" and len(text) > 5
