"""`python -m pipeline predict CKPT --input FILE --output OUT`: tag a file with a tagger checkpoint.

`--input -` reads standard input and `--output -` writes standard output (messages then go to stderr), so
`... | python -m pipeline predict CKPT --input - --output - | ...` is a filter.

A CoNLL input (token and gold columns) gives `token gold predicted` lines, the input format of
conlleval; plain text (one sentence a line, whitespace tokens) gives `token predicted` lines.
Sentences are separated by a blank line in both. An output named `*.conllu` (or `--output_format conllu`)
is CoNLL-U instead: a CoNLL-U input with the tag column replaced and every other line kept, or, from other
inputs, one word line per token (data_modules/tagging/conllu.py).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Literal

import pytorch_lightning as pl
import torch.distributed as dist
from jsonargparse import ArgumentParser

from data_modules.errors import DataError
from data_modules.files import read_text, write_atomic
from data_modules.tagging import conllu
from pipeline import lm_embeddings
from pipeline.commands.evaluate import checkpoint_command
from pipeline.errors import PipelineError
from pipeline.paths import check_output, read_paths
from pipeline.stdin import stdin_file
from pipeline.trainer import build_trainer, cpu_kernels, launch_rank, prepare_and_setup


def main(args: list[str]) -> Path:
    def extra(p: ArgumentParser) -> None:
        p.add_argument("--input", type=str,
                       help="A CoNLL file, a file of word/TAG lines, or a text file with one sentence a line ('-': standard input).")  # fmt: skip
        p.add_argument("--output", type=str, help="Where to write the tagged tokens ('-': standard output).")
        p.add_argument("--format", type=Literal["auto", "conll", "conllu", "tagged", "text"], default="auto",
                       help="Input format; auto decides from the extension and the file's columns.")  # fmt: skip
        p.add_argument("--output_format", type=Literal["auto", "columns", "conllu"], default="auto",
                       help="columns: token [gold] predicted lines; conllu: CoNLL-U with the prediction in the "
                            "--data.conllu_column column; auto: conllu when --output ends in .conllu.")  # fmt: skip

    saved, cfg = checkpoint_command(args, "python -m pipeline predict", extra, want="tagger")
    if not cfg.input or not cfg.output:
        raise PipelineError("predict needs --input FILE and --output FILE.")
    source = stdin_file() if cfg.input == "-" else cfg.input
    name = "standard input" if cfg.input == "-" else cfg.input
    if not Path(source).is_file():
        raise PipelineError(f"Input file '{cfg.input}' does not exist.")
    to_stdout = cfg.output == "-"  # the tags alone on stdout (a pipe); the command's own messages on stderr
    say = functools.partial(print, file=sys.stderr if to_stdout else sys.stdout)
    if not to_stdout:
        check_output(cfg.output, [source, cfg.checkpoint, *read_paths(cfg.data)], "--output")
    dm, module = saved.restore(saved.task.data_config(**cfg.data.as_dict()))
    try:
        sentences, gold, fmt = dm.read_prediction_file(source, cfg.format)
    except DataError as e:  # name what the user gave, not the copy of standard input
        raise DataError(str(e).replace(source, name)) from None
    to_conllu = cfg.output_format == "conllu" or (
        cfg.output_format == "auto" and cfg.output.endswith(".conllu")
    )
    if to_conllu:  # a column it cannot write is refused before any tagging
        text = read_text(source, cfg.data.encoding) if fmt == "conllu" else ""
        conllu.output_column(cfg.data.conllu_column, conllu.columns_of(text))
    if launch_rank() == 0:
        what = (f"CoNLL-U with the predictions in column {cfg.data.conllu_column}" if to_conllu
                else "token gold predicted" if gold else "token predicted")  # fmt: skip
        say(f"Reading {name} as {fmt}; writing {what}")
    dm.set_predict_sentences(sentences)
    prepare_and_setup(dm)
    lm_embeddings.attach(dm, module)
    gather = GatherPredictions()
    bar = {"enable_progress_bar": False} if to_stdout else {}  # the bar draws on stdout
    trainer = build_trainer(cfg.trainer.as_dict() | bar, callbacks=[gather])
    with cpu_kernels(trainer):
        trainer.predict(module, datamodule=dm, return_predictions=False)
    if not trainer.is_global_zero:
        return Path(cfg.output)
    predicted = [gather.predicted[i] for i in range(len(sentences))]
    out = Path(cfg.output)
    if to_conllu and fmt == "conllu":
        text = conllu.retag(read_text(source, cfg.data.encoding), predicted, cfg.data.conllu_column, name)
    elif to_conllu:
        text = conllu.from_tokens(sentences, predicted, cfg.data.conllu_column)
    else:
        text = columns(sentences, gold, predicted)
    if to_stdout:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(out, text)
    where = "standard output" if to_stdout else out
    say(f"Tagged {len(sentences)} sentences, {sum(map(len, sentences))} tokens -> {where}")
    return out


def columns(sentences: list[list[str]], gold: list[list[str]] | None, predicted: list[list[str]]) -> str:
    """`token gold predicted` lines (`token predicted` without gold), a blank line after each sentence; the columns
    are separated by tabs when a token holds a space (`New York` from a tab-separated file), by a space otherwise."""
    sep = "\t" if any(any(c.isspace() for c in t) for s in sentences for t in s) else " "
    lines = []
    for i, tokens in enumerate(sentences):
        for j, token in enumerate(tokens):
            lines.append(sep.join([token, gold[i][j], predicted[i][j]] if gold else [token, predicted[i][j]]))
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


class GatherPredictions(pl.Callback):
    """Collects (sentence index, tags) from every rank on rank 0, so the output keeps the input order
    whatever the number of processes (each rank tags its own share of the sentences)."""

    def __init__(self):
        self.mine: list = []
        self.predicted: dict[int, list[str]] = {}

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.mine.extend(outputs)

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        shares = [self.mine]
        if trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            shares = [None] * trainer.world_size
            dist.all_gather_object(shares, self.mine)
        self.predicted = {i: tags for share in shares for i, tags in share}
