"""`python -m pipeline generate CKPT --prompt "The"`: sample text from a language-model checkpoint."""

from __future__ import annotations

from jsonargparse import ArgumentParser

from pipeline import checks
from pipeline import config as configs
from pipeline.api import from_saved
from pipeline.checkpoints import open_checkpoint
from pipeline.errors import PipelineError


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m pipeline generate", exit_on_error=False, allow_abbrev=False)
    p.add_argument(
        "checkpoint", type=str, help="A language-model .ckpt written by `train`, or an exported folder."
    )
    p.add_argument("--prompt", type=str, default="", help="Text to continue; empty = start of a line.")
    p.add_argument("--max_tokens", "--max-tokens", type=int, default=50, help="Tokens to generate.")
    p.add_argument("--temperature", type=float, default=1.0, help="Softmax temperature; 0 = greedy.")
    p.add_argument(
        "--top_k", "--top-k", type=int | None, default=None, help="Sample among the k most likely tokens."
    )
    p.add_argument("--seed", type=int, default=0, help="Seed of the sampler.")
    p.add_argument("--verbose", type=bool, default=False, help="Show tracebacks for errors.")
    return p


def main(args: list[str]) -> str:
    cfg = configs.parse(parser(), args)
    rules = {"max_tokens": {"min": 1}, "temperature": {"min": 0}, "top_k": {"min": 0}, "seed": checks.SEED}
    for key, rule in rules.items():
        if (why := checks.bad_value(key, cfg.get(key), rule)) is not None:
            raise PipelineError(why)
    saved = open_checkpoint(cfg.checkpoint, want="lm", command="generate")
    out = from_saved(saved).generate(cfg.prompt, cfg.max_tokens, cfg.temperature, cfg.top_k, cfg.seed)
    print(out)
    return out
