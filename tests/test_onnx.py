"""`export --format onnx` + pipeline/onnx_runtime.py: onnxruntime gives PyTorch's numbers without PyTorch.

Emissions and log-probabilities within 1e-4, Viterbi paths identical, on random inputs of varied lengths
(batch 1 and batch > 1), for both char encoders and a 2-layer BiLSTM; the runtime's tags are `pipeline.load`'s.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import pipeline
from pipeline import onnx_runtime
from pipeline.__main__ import main
from tests.conftest import ROOT
from tests.tiny_models import ADAPTIVE, train_lm, train_tagger

SENTENCES = ["John lives in Paris .", "Yesterday Anna Smith joined Initech Corp", "Zork",
             "Globex Corp opened an office in Madrid", "an UNSEEN-word 1984 went well well well ."]  # fmt: skip


@pytest.fixture(scope="module", params=["cnn", "lstm"])
def tagger(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"onnx-{request.param}")
    ckpt = train_tagger(work, request.param) / "checkpoints" / "best.ckpt"
    assert main(["export", str(ckpt), "--format", "onnx", "--output", str(work / "onnx")]) == 0
    return pipeline.load(ckpt), onnx_runtime.load(work / "onnx", threads=1), work / "onnx"


@pytest.fixture(scope="module", params=["full", "adaptive", "adaptive-input"])
def lm(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"onnx-lm-{request.param}")
    extra = {
        "full": [],
        "adaptive": ADAPTIVE,
        "adaptive-input": [*ADAPTIVE, "--model.adaptive_input", "true"],
    }
    ckpt = train_lm(work, *extra[request.param]) / "checkpoints" / "best.ckpt"
    assert main(["export", str(ckpt), "--format", "onnx", "--output", str(work / "onnx")]) == 0
    return pipeline.load(ckpt), onnx_runtime.load(work / "onnx", threads=1)


def random_batch(lengths: list[int], words: int, chars: int, seed: int) -> dict[str, torch.Tensor]:
    """Random ids with left-aligned padding; words of 0 to 7 characters (0 only as the test's own corner)."""
    g = torch.Generator().manual_seed(seed)
    b, length, width = len(lengths), max(lengths), 7
    lengths_t = torch.tensor(lengths)
    mask = torch.arange(length)[None] < lengths_t[:, None]
    word_chars = torch.randint(0, width + 1, (b, length), generator=g)
    char_mask = (torch.arange(width)[None, None] < word_chars[..., None]) & mask[..., None]
    return {
        "words": torch.randint(1, words, (b, length), generator=g) * mask,
        "chars": torch.randint(1, chars, (b, length, width), generator=g) * char_mask,
        "case": torch.randint(1, 6, (b, length), generator=g) * mask,
        "mask": mask,
        "lengths": lengths_t,
    }


@pytest.mark.parametrize(
    "lengths", [[1], [13], [9, 1, 4, 17, 2], [3, 3, 3]], ids=["b1-l1", "b1-l13", "b5", "b3"]
)
def test_tagger_emissions_and_viterbi_paths_match_pytorch(tagger, lengths):
    torch_tagger, onnx_tagger, _ = tagger
    net = torch_tagger.module.model
    batch = random_batch(
        lengths, net.word_embedding.num_embeddings, 20, seed=len(lengths) * 100 + max(lengths)
    )
    with torch.no_grad():
        expected = net.emissions(batch)
        paths = net.decode(batch)
    arrays = {k: batch[k].numpy() for k in ("words", "chars", "case", "lengths")}
    got = onnx_tagger.emissions(**arrays)
    mask = batch["mask"].numpy()
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got[mask], expected.numpy()[mask], atol=1e-4, rtol=0)
    assert np.array_equal(onnx_tagger.decode(got, arrays["lengths"]), paths.numpy())
    # The NumPy Viterbi itself is the CRF's, exactly: same emissions in, same paths out.
    assert np.array_equal(onnx_tagger.decode(expected.numpy(), arrays["lengths"]), paths.numpy())


def test_runtime_tags_and_spans_are_the_python_apis(tagger):
    torch_tagger, onnx_tagger, _ = tagger
    assert onnx_tagger.tag(SENTENCES) == torch_tagger.tag(SENTENCES)
    assert onnx_tagger.tag(SENTENCES, batch_size=1) == torch_tagger.tag(SENTENCES)
    assert onnx_tagger.spans(SENTENCES) == [[tuple(s) for s in row] for row in torch_tagger.spans(SENTENCES)]


@pytest.mark.parametrize(("batch", "steps"), [(1, 1), (1, 23), (4, 1), (4, 9)])
def test_lm_step_log_probs_and_state_match_pytorch(lm, batch, steps):
    torch_lm, onnx_lm = lm
    g = torch.Generator().manual_seed(batch * 10 + steps)
    tokens = torch.randint(0, torch_lm.model.vocab_size, (batch, steps), generator=g)
    h, c = (0.5 * torch.randn(2, batch, 16, generator=g) for _ in range(2))
    with torch.no_grad():
        logits, (h_out, c_out) = torch_lm.model(tokens, (h, c))
    lp, h_got, c_got = onnx_lm.step(tokens.numpy(), h.numpy(), c.numpy())
    np.testing.assert_allclose(lp, torch.log_softmax(logits, -1).numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(h_got, h_out.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(c_got, c_out.numpy(), atol=1e-4, rtol=0)


def test_runtime_lm_scores_and_greedy_text_are_the_python_apis(lm):
    torch_lm, onnx_lm = lm
    texts = ["w1 w2 w3", "w5", "w7 w7 w7 w9\nw2 w3"]
    assert onnx_lm.log_prob(texts) == pytest.approx(torch_lm.log_prob(texts), rel=1e-5)
    assert onnx_lm.perplexity(texts) == pytest.approx(torch_lm.perplexity(texts), rel=1e-5)
    assert onnx_lm.generate("w1", max_tokens=15, temperature=0) == torch_lm.generate(
        "w1", max_tokens=15, temperature=0
    )
    sampled = onnx_lm.generate("w1", max_tokens=15, temperature=0.8, top_k=5, seed=1)
    assert sampled.startswith("w1 ") and len(sampled.split()) >= 2


@pytest.mark.parametrize("which", [0, 1], ids=["pytorch", "onnx"])
def test_both_apis_refuse_one_string_and_agree_on_texts_without_tokens(tagger, lm, which, monkeypatch):
    """A bare string would be read letter by letter (each character a sentence or a text): refused in both APIs."""
    for method in (tagger[which].tag, tagger[which].spans, lm[which].log_prob, lm[which].perplexity):
        with pytest.raises(TypeError, match=rf"{method.__name__} takes a list of texts, not one string"):
            method("w1 w2")
    # As a model that skips blank lines reads them (this one models them): texts without a token.
    monkeypatch.setattr(lm[0].saved.config.data, "skip_empty_lines", True)
    monkeypatch.setitem(lm[1].meta, "skip_empty_lines", True)
    assert lm[which].log_prob(["", "\n", "w1"])[:2] == [0.0, 0.0]  # probability 1
    assert lm[which].log_prob(["", "\n", "w1"])[2] == pytest.approx(
        lm[1 - which].log_prob(["w1"])[0], rel=1e-5
    )
    with pytest.raises(ValueError, match="at least one token"):
        lm[which].perplexity(["", "\n"])


def test_the_runtime_imports_no_pytorch():
    code = (
        "import sys; from pipeline import onnx_runtime; assert 'torch' not in sys.modules, 'torch imported'"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_onnx_export_writes_the_folder_too(tagger):
    folder = tagger[2]
    assert {"model.safetensors", "README.md", "emissions.onnx", "crf.npz", "onnx.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert pipeline.load(folder).tag(SENTENCES) == tagger[0].tag(SENTENCES)
