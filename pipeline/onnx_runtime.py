"""Run a model exported with `--format onnx` on onnxruntime and NumPy, without PyTorch.

    from pipeline import onnx_runtime
    tagger = onnx_runtime.load("exported/")          # or an LM folder
    tagger.tag(["John lives in Paris ."])             # Viterbi in NumPy over the ONNX emissions

Inputs are encoded with the exported vocabularies by the same code training used (data_modules' TaggingVocab,
pipeline/lm_text.py over Hugging Face `tokenizers`), so a service needs numpy, onnxruntime and tokenizers only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from data_modules.tag_schemes import SCHEMES, chunks, convert
from data_modules.tagging.vocab import ARTIFACTS, TaggingVocab
from pipeline import api_inputs, lm_text


def load(folder: str | Path, threads: int | None = None) -> OnnxTagger | OnnxLanguageModel:
    """The exported model in `folder`; `threads` sets onnxruntime's intra-op threads (None: its default)."""
    folder = Path(folder)
    meta = json.loads((folder / "onnx.json").read_text())
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return (OnnxTagger if meta["task"] == "tagger" else OnnxLanguageModel)(folder, meta, options)


def viterbi(
    emissions: np.ndarray, lengths: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Best paths (B, L) int64, 0 on padding: emissions (B, L, K), lengths (B,), scores as `CRF._scores` gives them.

    The same recursion, in the same float32 order of additions, as models/crf.py's loop formulation."""
    b, length, k = emissions.shape
    score = start + emissions[:, 0]  # (B, K)
    identity = np.broadcast_to(np.arange(k), (b, k))
    pointers = []
    for t in range(1, length):
        cand = score[:, :, None] + trans + emissions[:, t][:, None, :]  # (B, K_from, K_to)
        keep = (t < lengths)[:, None]
        score = np.where(keep, cand.max(axis=1), score)
        pointers.append(np.where(keep, cand.argmax(axis=1), identity))
    current = (score + end).argmax(axis=1)
    path = [current]
    for bp in reversed(pointers):
        current = np.take_along_axis(bp, current[:, None], axis=1)[:, 0]
        path.append(current)
    out = np.stack(path[::-1], axis=1)
    return out * (np.arange(length)[None, :] < lengths[:, None])


class OnnxTagger:
    """emissions.onnx + the CRF scores (crf.npz) + the vocabularies."""

    def __init__(self, folder: Path, meta: dict, options: ort.SessionOptions):
        self.meta = meta
        self.session = ort.InferenceSession(
            str(folder / "emissions.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.vocab = TaggingVocab.from_artifacts(
            {k: (folder / k).read_text(encoding="utf-8") for k in ARTIFACTS}
        )
        self.crf = dict(np.load(folder / "crf.npz")) if meta["head"] == "crf" else None
        self.scheme = meta["corpus_scheme"]

    def encode(self, sentences: list[list[str]]) -> dict[str, np.ndarray]:
        """Padded int64 arrays words, case (B, L), chars (B, L, C) and lengths (B,), as the data module pads."""
        enc = self.vocab.encode(
            sentences, None, self.meta["max_word_length"], "predict", list(range(len(sentences)))
        )
        b, length = len(sentences), max(enc["length"])
        width = max(len(w) for s in enc["chars"] for w in s)
        out = {k: np.zeros((b, length), dtype=np.int64) for k in ("words", "case")}
        out["chars"] = np.zeros((b, length, width), dtype=np.int64)
        for i, n in enumerate(enc["length"]):
            out["words"][i, :n], out["case"][i, :n] = enc["words"][i], enc["case"][i]
            for j, ids in enumerate(enc["chars"][i]):
                out["chars"][i, j, : len(ids)] = ids
        out["lengths"] = np.asarray(enc["length"], dtype=np.int64)
        return out

    def emissions(self, words, chars, case, lengths) -> np.ndarray:
        """(B, L, K) float32 tag scores; positions past a row's length hold no meaning."""
        feed = {"words": words, "chars": chars, "case": case, "lengths": lengths}
        names = {i.name for i in self.session.get_inputs()}  # the exporter drops inputs the model ignores
        return self.session.run(None, {k: v for k, v in feed.items() if k in names})[0]

    def decode(self, emissions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Best training-scheme tag ids (B, L), 0 on padding."""
        if self.crf is None:
            return emissions.argmax(axis=2) * (np.arange(emissions.shape[1])[None, :] < lengths[:, None])
        return viterbi(emissions, lengths, self.crf["transitions"], self.crf["start"], self.crf["end"])

    def tag(self, sentences: list[list[str]] | list[str], batch_size: int | None = None) -> list[list[str]]:
        """Tags in the corpus scheme for each sentence (tokens, or a string split on whitespace)."""
        sents = api_inputs.sentences(sentences, "tag")
        size = batch_size or self.meta["batch_size"]
        names, train, corpus = self.meta["train_tags"], self.meta["train_scheme"], self.scheme
        # Batches of similar lengths: the padded graph computes every padding position (PyTorch's packed LSTM
        # skips them), so sorting by length saves that work; the input order is restored below.
        order = sorted(range(len(sents)), key=lambda i: len(sents[i]))
        out: list[list[str]] = [[] for _ in sents]
        for lo in range(0, len(sents), size):
            rows = order[lo : lo + size]
            arrays = self.encode([sents[i] for i in rows])
            ids = self.decode(self.emissions(**arrays), arrays["lengths"])
            for i, row, n in zip(rows, ids, arrays["lengths"]):
                tags = [names[k] for k in row[:n]]
                if train in SCHEMES and corpus in SCHEMES and train != corpus:
                    tags = convert(tags, train, corpus)
                out[i] = tags
        return out

    def spans(self, sentences: list[list[str]] | list[str]) -> list[list[tuple[str, int, int, str]]]:
        """(type, start, end exclusive, text) of each chunk, as pipeline.load(...).spans gives them."""
        sents = api_inputs.sentences(sentences, "spans")
        return [[(kind, a, b, " ".join(tokens[a:b])) for kind, a, b in chunks(tags, self.scheme)]
                for tokens, tags in zip(sents, self.tag(sents))]  # fmt: skip


class OnnxLanguageModel:
    """lm_step.onnx + tokenizer.json: log-probabilities, perplexity and sampling in NumPy."""

    def __init__(self, folder: Path, meta: dict, options: ort.SessionOptions):
        self.meta = meta
        self.session = ort.InferenceSession(
            str(folder / "lm_step.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.eos = self.tokenizer.token_to_id("<eos>")

    def zero_state(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        shape = (self.meta["num_layers"], batch, self.meta["hidden_size"])
        return np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32)

    def step(
        self, tokens: np.ndarray, h: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """tokens (B, T) int64, h, c (num_layers, B, H) -> log-probs (B, T, V), h, c after the last token."""
        return tuple(self.session.run(None, {"tokens": tokens, "h": h, "c": c}))

    def encode(self, text: str) -> list[int]:
        return lm_text.encode(self.tokenizer, self.eos, text, self.meta["skip_empty_lines"])

    def log_prob(self, texts: list[str]) -> list[float]:
        """Natural-log probability of each text, each scored on its own from the zero state."""
        out = []
        for text in api_inputs.texts(texts, "log_prob"):
            ids = np.asarray([self.eos, *self.encode(text)], dtype=np.int64)
            if len(ids) == 1:  # no token (blank lines skipped): probability 1, as pipeline.load(...).log_prob
                out.append(0.0)
                continue
            lp, _, _ = self.step(ids[None, :-1], *self.zero_state(1))
            out.append(float(np.take_along_axis(lp[0], ids[1:, None], axis=1).astype(np.float64).sum()))
        return out

    def perplexity(self, texts: list[str]) -> float:
        """exp(mean NLL per token) of the texts read as one corpus (lines in order, state carried)."""
        texts = api_inputs.texts(texts, "perplexity")
        ids = np.asarray([self.eos, *(i for t in texts for i in self.encode(t))], dtype=np.int64)
        if len(ids) == 1:
            raise ValueError("perplexity needs at least one token")
        lp, _, _ = self.step(ids[None, :-1], *self.zero_state(1))
        nll = -np.take_along_axis(lp[0], ids[1:, None], axis=1).astype(np.float64).sum()
        return float(np.exp(nll / (len(ids) - 1)))

    def generate(self, prompt: str = "", max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int | None = None, seed: int = 0) -> str:  # fmt: skip
        """The prompt and a sampled continuation (NumPy's generator: greedy decoding equals PyTorch's)."""
        rng = np.random.default_rng(seed)
        lp, h, c = self.step(
            np.asarray([lm_text.prompt_ids(self.tokenizer, self.eos, prompt)]), *self.zero_state(1)
        )
        ids: list[int] = []
        for _ in range(max_tokens):
            last = lp[0, -1].astype(np.float64)
            if temperature == 0:
                nxt = int(last.argmax())
            else:
                if top_k is not None and top_k < last.size:
                    last = np.where(last < np.sort(last)[-top_k], -np.inf, last)
                p = np.exp((last - last.max()) / temperature)
                nxt = int(rng.choice(last.size, p=p / p.sum()))
            ids.append(nxt)
            if len(ids) < max_tokens:
                lp, h, c = self.step(np.asarray([[nxt]]), h, c)
        word_level = self.meta["tokenizer"] == "word"
        return lm_text.continuation(self.tokenizer, self.eos, prompt, ids, word_level)
