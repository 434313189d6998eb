"""The adaptive softmax output layer: an exact distribution, exact perplexity, and the CLI end to end."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F

from models.errors import ModelConfigError
from models.lm_lit_module import LMLitModule
from models.lstm_lm import LMConfig, LSTMLanguageModel
from models.optim import OptimConfig
from models.sampling import sample
from pipeline.__main__ import main as cli
from pipeline.trainer import cpu_bf16_lstm_works

V, CUTS = 11, [4, 8]


def cfg(**kw) -> LMConfig:
    base = dict(embedding_size=8, hidden_size=16, num_layers=1, dropout=0.0, embedding_dropout=0.0,
                layer_dropout=0.0, tie_weights=False, softmax="adaptive", cutoffs=CUTS, div_value=2.0)  # fmt: skip
    return LMConfig(**(base | kw))


def by_hand(model: LSTMLanguageModel, x: torch.Tensor) -> torch.Tensor:
    """Features (N, H) -> log p (N, V) from the head's weights alone: p(w) = p_head(w) for w in the shortlist,
    p_head(cluster i) * p_i(w) for w in tail cluster i (Grave et al. 2017, eq. 4)."""
    head = copy.deepcopy(model.head).double()  # float64 weights: the oracle must not round
    x = x.double()
    head_lp = F.log_softmax(F.linear(x, head.head.weight, head.head.bias), -1)
    parts = [head_lp[:, : CUTS[0]]]
    for i, (lo, hi) in enumerate(zip(CUTS, [*CUTS[1:], V])):
        proj, out = head.tail[i]
        cluster_lp = F.log_softmax(x @ proj.weight.T @ out.weight.T, -1)
        assert cluster_lp.shape[1] == hi - lo
        parts.append(head_lp[:, CUTS[0] + i : CUTS[0] + i + 1] + cluster_lp)
    return torch.cat(parts, -1)


def test_log_probabilities_sum_to_one_and_match_the_clusters():
    torch.manual_seed(0)
    model = LSTMLanguageModel(cfg(), V).double().eval()
    tokens = torch.randint(0, V, (3, 7))
    with torch.no_grad():
        scores, _ = model(tokens)
        feats, _ = model.features(tokens)
        nll = model.token_nll(feats, tokens)
    assert scores.shape == (3, 7, V) and scores.dtype == torch.float64
    assert torch.allclose(scores.exp().sum(-1), torch.ones(3, 7, dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.allclose(scores, by_hand(model, feats.reshape(-1, 16)).view(3, 7, V), atol=1e-12)
    # The training/evaluation path (target only) gives the same numbers as the whole distribution.
    assert torch.allclose(nll, -scores.gather(-1, tokens[..., None])[..., 0], atol=1e-12)


def test_evaluate_perplexity_is_exp_mean_nll_over_the_full_distribution():
    torch.manual_seed(0)
    lm = LMLitModule(cfg(), OptimConfig(name="adam", lr=0.01), V).eval()
    seqs = torch.randint(0, V, (3, 13))
    mask = torch.ones(3, 12, dtype=torch.bool)
    mask[1, 7:] = False
    lm.on_validation_epoch_start()
    with torch.no_grad():
        for i, lo in enumerate((0, 6)):
            window = seqs[:, lo : lo + 7]
            lm.validation_step(
                {"input": window[:, :-1], "target": window[:, 1:], "mask": mask[:, lo : lo + 6]}, i
            )
        feats, _ = lm.model.features(seqs[:, :-1])
        logp = by_hand(lm.model, feats.reshape(-1, 16))
    nll = -logp.gather(1, seqs[:, 1:].reshape(-1, 1))[:, 0][mask.reshape(-1)]
    lm.log = lambda *a, **k: None  # no Trainer attached
    lm.on_validation_epoch_end()
    res = lm.last_result["val"]
    assert res["tokens"] == int(mask.sum()) == 31
    assert res["ppl"] == pytest.approx(math.exp(nll.mean().item()), rel=1e-6)


def test_bf16_autocast_keeps_the_adaptive_loss_in_fp32_and_trains_every_cluster():
    torch.manual_seed(0)
    lm = LMLitModule(cfg(), OptimConfig(name="adam", lr=0.01), V)
    tokens = torch.zeros(2, 7, dtype=torch.long)  # every target in the head: no tail cluster is used
    b = {"input": tokens[:, :-1], "target": tokens[:, 1:], "mask": torch.ones(2, 6, dtype=torch.bool)}
    with (
        torch.backends.mkldnn.flags(enabled=cpu_bf16_lstm_works()),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        loss = lm.training_step(b, 0)
        scores, _ = lm.model(tokens)
    assert loss.dtype == scores.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    # A parameter without a gradient would stop a DDP step.
    assert all(p.grad is not None for p in lm.model.head.parameters())


def test_sampling_reads_the_whole_distribution():
    torch.manual_seed(0)
    model = LSTMLanguageModel(cfg(), V).eval()
    draws = sample(model, [1], 400, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert len(set(draws)) == V  # tail-cluster tokens are drawn too
    greedy = sample(model, [1, 2], 5, temperature=0)
    ids = [1, 2]
    with torch.no_grad():
        for _ in range(5):
            feats, _ = model.features(torch.tensor([ids]))
            ids.append(int(by_hand(model, feats[0, -1:]).argmax()))
    assert ids[2:] == greedy


def test_configuration_errors_are_one_readable_line():
    with pytest.raises(ModelConfigError, match="tie_weights=false"):
        LSTMLanguageModel(cfg(tie_weights=True, embedding_size=16), V)
    with pytest.raises(ModelConfigError, match=r"model.cutoffs \[8, 4\]"):
        LSTMLanguageModel(cfg(cutoffs=[8, 4]), V)
    with pytest.raises(ModelConfigError, match="vocabulary size - 1 \\(10\\)"):
        LSTMLanguageModel(cfg(cutoffs=[4, 11]), V)
    with pytest.raises(ModelConfigError, match="div_value"):
        LSTMLanguageModel(cfg(div_value=8.0), V)
    derived = LSTMLanguageModel(cfg(cutoffs=None), 1000)
    assert derived.head.cutoffs == [50, 200, 1000]


def test_train_evaluate_generate_with_the_adaptive_softmax(tmp_path, lm_corpus, tiny_lm_args, capsys):
    extra = ["--model.softmax", "adaptive", "--model.tie_weights", "false", "--model.cutoffs", "[5, 15]"]
    assert cli(["train", *tiny_lm_args(tmp_path, lm_corpus), *extra]) == 0
    run = tmp_path / "runs" / "tiny"
    metrics = json.loads((run / "metrics.json").read_text())
    state = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert "model.head.tail.1.1.weight" in state and not any(".decoder." in k for k in state)
    out = tmp_path / "test.json"
    best = str(run / "checkpoints" / "best.ckpt")
    assert cli(["evaluate", best, "--output", str(out), "--trainer.enable_progress_bar", "false"]) == 0
    result = json.loads(out.read_text())
    assert result["tokens"] == metrics["test"]["tokens"]
    assert result["perplexity"] == pytest.approx(metrics["test"]["perplexity"], rel=1e-5)
    assert result["perplexity"] < 40  # it learned something: a uniform guess over ~42 words is ~42
    capsys.readouterr()
    assert cli(["generate", best, "--prompt", "w3", "--max-tokens", "20", "--seed", "1"]) == 0
    text = capsys.readouterr().out.split()
    assert text[0] == "w3" and len(text) > 5
