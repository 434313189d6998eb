"""The Python API: `pipeline.load(path)` -> a `Tagger` or a `LanguageModel`, ready on the CPU.

`path` is a `.ckpt` written by `train` or a folder written by `python -m pipeline export --format folder`.
Both come back through the one restore route (`open_checkpoint(...).restore`) the CLI's evaluate, predict and
generate use, so `tag` is what `predict` writes and `perplexity` what `evaluate` prints.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from data_modules.lm import tokenizer as toks
from data_modules.lm.windows import eval_windows
from data_modules.tag_schemes import chunks
from models.sampling import sample
from pipeline import api_inputs, lm_text
from pipeline.checkpoints import Saved, open_checkpoint


class Span(NamedTuple):
    """A typed chunk of one sentence: tokens[start:end] (end exclusive)."""

    type: str
    start: int
    end: int
    text: str


def load(path: str | Path, want: str | None = None) -> Tagger | LanguageModel:
    """A trained model from a checkpoint or an exported folder; `want` ('lm' or 'tagger') checks the task."""
    return from_saved(open_checkpoint(str(path), want, "pipeline.load"))


def from_saved(saved: Saved) -> Tagger | LanguageModel:
    # No loader workers: the API tags a few sentences at a time, in this process.
    dm, module = saved.restore(replace(saved.config.data, num_workers=0))
    module.eval()
    return (Tagger if saved.task.name == "tagger" else LanguageModel)(saved, dm, module)


class Tagger:
    """A BiLSTM tagger: tags in the corpus's scheme, and its typed spans."""

    def __init__(self, saved: Saved, dm, module):
        self.saved, self.dm, self.module = saved, dm, module
        self.scheme: str = module.corpus_scheme
        """The corpus's tagging scheme (iob1, iob2, bioes, bilou, bmes, ioe1, ioe2, io, or none for
        POS-like tag sets)."""

    @torch.no_grad()
    def tag(self, sentences: list[list[str]] | list[str]) -> list[list[str]]:
        """One tag per token for each sentence (a list of tokens, or a string split on whitespace).

        Batched as `predict` batches (data.eval_batch_size sentences, data.max_tokens_per_batch tokens).
        """
        sents = api_inputs.sentences(sentences, "tag")
        if not sents:
            return []
        self.dm.set_predict_sentences(sents)
        out: dict[int, list[str]] = {}
        for i, batch in enumerate(self.dm.predict_dataloader()):
            out.update(self.module.predict_step(batch, i))
        return [out[i] for i in range(len(sents))]

    def spans(self, sentences: list[list[str]] | list[str]) -> list[list[Span]]:
        """The typed spans of each sentence, found as conlleval finds them (none for POS-like tag sets)."""
        sents = api_inputs.sentences(sentences, "spans")
        return [
            [Span(kind, a, b, " ".join(tokens[a:b])) for kind, a, b in chunks(tags, self.scheme)]
            for tokens, tags in zip(sents, self.tag(sents))
        ]


class LanguageModel:
    """An LSTM language model: log-probabilities, perplexity and samples.

    A text is modelled as the corpus was: line by line, each line ending in `<eos>`, and the first token
    predicted from an `<eos>` (the end of a previous line).
    """

    def __init__(self, saved: Saved, dm, module):
        self.saved, self.dm, self.module = saved, dm, module
        self.model = module.model
        self.tokenizer = dm.tokenizer
        self.eos = self.tokenizer.token_to_id(toks.EOS)

    def encode(self, text: str) -> list[int]:
        """Token ids of a text, as the data module tokenizes a split (blank lines per data.skip_empty_lines)."""
        return lm_text.encode(self.tokenizer, self.eos, text, self.saved.config.data.skip_empty_lines)

    @torch.no_grad()
    def log_prob(self, texts: list[str]) -> list[float]:
        """Natural-log probability of each text, each scored on its own from the zero state (float64 sums)."""
        texts = api_inputs.texts(texts, "log_prob")
        ids = [self.encode(t) for t in texts]
        longest = max((len(x) for x in ids), default=0)
        if longest == 0:
            return [0.0] * len(texts)
        rows = torch.zeros((len(ids), longest + 1), dtype=torch.long)
        rows[:, 0] = self.eos
        mask = torch.zeros((len(ids), longest), dtype=torch.bool)
        for b, x in enumerate(ids):
            rows[b, 1 : len(x) + 1] = torch.tensor(x, dtype=torch.long)
            mask[b, : len(x)] = True
        # Right padding: a row's real positions never see its padding (the LSTM runs left to right).
        logits, _ = self.model(rows[:, :-1])
        lp = F.log_softmax(logits.float(), dim=-1).gather(2, rows[:, 1:].unsqueeze(2)).squeeze(2)
        return (lp.double() * mask).sum(dim=1).tolist()

    @torch.no_grad()
    def perplexity(self, texts: list[str]) -> float:
        """exp(mean NLL per token) of the texts read as one corpus (lines in order, state carried): what
        `evaluate` prints on a split holding these lines, scored as one stream (data.eval_batch_size 1)."""
        texts = api_inputs.texts(texts, "perplexity")
        ids = np.asarray([i for t in texts for i in self.encode(t)], dtype=np.int64)
        if len(ids) == 0:
            raise ValueError("perplexity needs at least one token")
        nll, hidden = 0.0, None
        for window in eval_windows(ids, self.eos, 1, self.saved.config.data.bptt, 0, 1):
            logits, hidden = self.model(window["input"], hidden)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), window["target"].reshape(-1),
                                   reduction="none")  # fmt: skip
            nll += float((loss * window["mask"].reshape(-1)).sum().double())
        return float(np.exp(nll / len(ids)))

    def generate(self, prompt: str = "", max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int | None = None, seed: int = 0) -> str:  # fmt: skip
        """The prompt and its sampled continuation (temperature 0 = greedy); lines end at `<eos>`."""
        generator = torch.Generator().manual_seed(seed)
        start = lm_text.prompt_ids(self.tokenizer, self.eos, prompt)
        ids = sample(self.model, start, max_tokens, temperature, top_k, generator)
        word_level = self.saved.config.data.tokenizer == "word"
        return lm_text.continuation(self.tokenizer, self.eos, prompt, ids, word_level)
