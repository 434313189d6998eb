"""LSTM language model, its LightningModule and text sampling."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from models.errors import ModelConfigError
from models.lm_lit_module import LMLitModule
from models.lstm_lm import LMConfig, LSTMLanguageModel
from models.optim import OptimConfig
from models.sampling import sample
from pipeline.trainer import cpu_bf16_lstm_works

V = 11


def tiny_cfg(**kw) -> LMConfig:
    base = dict(
        embedding_size=8, hidden_size=8, num_layers=2, dropout=0.0, embedding_dropout=0.0, layer_dropout=0.0
    )
    base.update(kw)
    return LMConfig(**base)


def batch(inputs: torch.Tensor, mask: torch.Tensor | None = None) -> dict:
    """Next-token batch from a (B, T+1) id tensor."""
    x, y = inputs[:, :-1], inputs[:, 1:]
    return {"input": x, "target": y, "mask": torch.ones_like(x, dtype=torch.bool) if mask is None else mask}


def test_shapes():
    torch.manual_seed(0)
    model = LSTMLanguageModel(tiny_cfg(num_layers=3), V)
    logits, (h, c) = model(torch.randint(0, V, (4, 5)))
    assert logits.shape == (4, 5, V)
    assert h.shape == c.shape == (3, 4, 8)
    h0, c0 = model.init_hidden(4, "cpu")
    assert h0.shape == (3, 4, 8) and not h0.any()


def test_tying_error_names_both_sizes():
    with pytest.raises(ModelConfigError, match="hidden_size=16.*embedding_size=8.*tie_weights=false"):
        LSTMLanguageModel(tiny_cfg(hidden_size=16), V)
    LSTMLanguageModel(tiny_cfg(hidden_size=16, tie_weights=False), V)  # untied is fine


def test_tie_shares_parameter():
    model = LSTMLanguageModel(tiny_cfg(), V)
    assert model.decoder.weight is model.encoder.weight
    assert len([p for p in model.parameters() if p.shape == (V, 8)]) == 1
    untied = LSTMLanguageModel(tiny_cfg(tie_weights=False), V)
    assert untied.decoder.weight is not untied.encoder.weight


def test_weight_drop_train_vs_eval_and_grads():
    torch.manual_seed(0)
    model = LSTMLanguageModel(tiny_cfg(weight_drop=0.5), V)
    x = torch.randint(0, V, (2, 6))
    n_params = len(list(model.parameters()))
    model.train()
    a, _ = model(x)
    b, _ = model(x)
    assert not torch.allclose(a, b)
    a.sum().backward()
    raw = model.layers[0].lstm.weight_hh_l0
    assert raw.grad is not None and raw.grad.abs().sum() > 0
    assert len(list(model.parameters())) == n_params  # nothing re-registered
    assert isinstance(model.layers[0].lstm.weight_hh_l0, torch.nn.Parameter)
    model.eval()
    with torch.no_grad():
        c, _ = model(x)
        d, _ = model(x)
        plain = LSTMLanguageModel(tiny_cfg(), V)
        plain.load_state_dict(model.state_dict())
        e, _ = plain.eval()(x)
    assert torch.equal(c, d) and torch.allclose(c, e)


def test_hidden_carry_equals_full_sequence():
    torch.manual_seed(0)
    model = LSTMLanguageModel(tiny_cfg(dropout=0.3, weight_drop=0.3), V).eval()
    x = torch.randint(0, V, (3, 10))
    with torch.no_grad():
        full, hid_full = model(x)
        first, hid = model(x[:, :5])
        second, hid2 = model(x[:, 5:], hid)
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-6)
    assert torch.allclose(hid2[0], hid_full[0], atol=1e-6)


def make_module(**kw) -> LMLitModule:
    torch.manual_seed(0)
    return LMLitModule(tiny_cfg(**kw), OptimConfig(name="adam", lr=0.01), V)


def test_module_carries_and_resets_hidden():
    lm = make_module()
    b = batch(torch.randint(0, V, (2, 5)))
    lm.on_train_epoch_start()
    assert lm.hidden["train"] is None
    lm.training_step(b, 0)
    first = lm.hidden["train"]
    assert first is not None and not first[0].requires_grad
    lm.training_step(b, 1)
    # the same window gives a different state only because the second step started from the carried one
    assert not torch.equal(lm.hidden["train"][0], first[0])
    lm.on_train_epoch_start()
    assert lm.hidden["train"] is None
    lm.training_step(b, 0)
    assert torch.equal(lm.hidden["train"][0], first[0])
    # batch size change resets instead of crashing
    lm.training_step(batch(torch.randint(0, V, (3, 5))), 2)
    assert lm.hidden["train"][0].shape[1] == 3
    lm.validation_step(b, 0)
    lm.test_step(b, 0)
    lm.on_validation_epoch_start()
    lm.on_test_epoch_start()
    assert lm.hidden["val"] is None and lm.hidden["test"] is None and lm.hidden["train"] is not None


def test_carry_state_roundtrip_of_train_hidden():
    lm = make_module()
    lm.training_step(batch(torch.randint(0, V, (2, 5))), 0)
    state = lm.carry_state()
    assert all(t.device.type == "cpu" for t in state)
    other = make_module()
    other.load_carry_state(state)
    assert torch.equal(other.hidden["train"][1], lm.hidden["train"][1])


def test_val_ppl_masks_padding_exactly():
    lm = make_module().eval()
    seqs = torch.randint(0, V, (3, 9))
    mask = torch.ones(3, 8, dtype=torch.bool)
    mask[1, 5:] = False  # a shorter stream
    mask[2] = False  # a row that is entirely padding
    windows = [batch(seqs[:, :5]), batch(seqs[:, 4:])]
    windows[0]["mask"], windows[1]["mask"] = mask[:, :4], mask[:, 4:]
    lm.on_validation_epoch_start()
    with torch.no_grad():
        for i, w in enumerate(windows):
            lm.validation_step(w, i)
        logits, _ = lm.model(seqs[:, :-1])
    nll = F.cross_entropy(logits.reshape(-1, V).double(), seqs[:, 1:].reshape(-1), reduction="none")
    expected = nll[mask.reshape(-1)].sum().item() / mask.sum().item()
    lm.log = lambda *a, **k: None  # no Trainer attached
    lm.on_validation_epoch_end()
    res = lm.last_result["val"]
    assert res["tokens"] == int(mask.sum()) == 13
    assert res["loss"] == pytest.approx(expected, rel=1e-5)
    assert res["ppl"] == pytest.approx(math.exp(expected), rel=1e-5)
    assert float(lm.val_tokens.compute()) == 0  # metrics reset for the next round


def test_trainer_run_lowers_loss():
    torch.manual_seed(0)
    stream = torch.arange(4).repeat(2, 40)  # 0 1 2 3 0 1 2 3 ... (B=2, 160 tokens)
    windows = [batch(stream[:, i : i + 9]) for i in range(0, 150, 8)]
    # One layer: a 2-layer LSTM sits on the unigram plateau for many steps before it learns the cycle.
    cfg = tiny_cfg(embedding_size=16, hidden_size=16, num_layers=1)
    lm = LMLitModule(cfg, OptimConfig(name="adam", lr=0.05, lr_decay=1.0), V)
    with torch.no_grad():
        before = sum(
            float(F.cross_entropy(lm.model(w["input"])[0].reshape(-1, V), w["target"].reshape(-1)))
            for w in windows
        )
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=2 * len(windows),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=len(windows),
    )
    loader = DataLoader(windows, batch_size=None)
    trainer.fit(lm, loader, loader)
    assert lm.last_result["val"]["loss"] < before / len(windows) / 4
    assert lm.last_result["val"]["tokens"] == sum(w["mask"].sum().item() for w in windows)
    assert trainer.callback_metrics["val/ppl"] == pytest.approx(lm.last_result["val"]["ppl"], rel=1e-5)
    assert "train/loss" in trainer.callback_metrics


def test_bf16_autocast_loss_is_fp32():
    lm = make_module()
    b = batch(torch.randint(0, V, (2, 6)))
    # As the pipeline runs it (pipeline/trainer.py: cpu_kernels): PyTorch's own LSTM kernel where oneDNN has none.
    with (
        torch.backends.mkldnn.flags(enabled=cpu_bf16_lstm_works()),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        loss = lm.training_step(b, 0)
        loss2 = lm.training_step(b, 1)  # carried bf16 state feeds back in
    assert loss.dtype == loss2.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    lm.training_step(b, 2)  # the same carried state also works without autocast


def test_sampling_deterministic_and_greedy():
    torch.manual_seed(0)
    model = LSTMLanguageModel(tiny_cfg(dropout=0.5), V)
    model.train()
    prompt = [1, 2, 3]
    a = sample(model, prompt, 12, temperature=1.0, generator=torch.Generator().manual_seed(7))
    b = sample(model, prompt, 12, temperature=1.0, generator=torch.Generator().manual_seed(7))
    assert a == b and len(a) == 12 and all(0 <= t < V for t in a)
    assert model.training  # mode restored
    greedy = sample(model, prompt, 8, temperature=0)
    top1 = sample(model, prompt, 8, temperature=0.7, top_k=1, generator=torch.Generator().manual_seed(1))
    assert greedy == top1
    # greedy by hand: feed prompt + argmax each step
    with torch.no_grad():
        model.eval()
        ids = list(prompt)
        for _ in range(8):
            ids.append(int(model(torch.tensor([ids]))[0][0, -1].argmax()))
    assert ids[len(prompt) :] == greedy
    with pytest.raises(ModelConfigError):
        sample(model, [], 3)
