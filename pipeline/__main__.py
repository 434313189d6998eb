"""`python -m pipeline COMMAND ...`: the command table. Each command is one module in `pipeline/commands/`
with a `main(args)`.

Errors the user can fix end in one message and exit status 2 (a stop on a signal: 128 + its number);
`--verbose` shows the traceback.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys
import warnings

from pipeline import paths
from pipeline.errors import USER_ERRORS, CollectiveStop

# Errors of the machine's files, not of the program: a full disk or quota, a read-only or forbidden place.
USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}

COMMANDS = {
    "train": "Train a model from a recipe (resumes the run if it exists).",
    "evaluate": "Score a checkpoint on a split; needs nothing but the checkpoint.",
    "predict": "Tag a CoNLL or plain-text file with a tagger checkpoint.",
    "generate": "Sample text from a language-model checkpoint.",
    "export": "Export a checkpoint as a safetensors folder or ONNX (with a NumPy + onnxruntime runtime).",
    "prepare": "Download and tokenize a recipe's data into the cache, without training.",
    "demo": "Offline demo on a synthetic corpus with known optimal scores.",
    "slurm": "Write an sbatch script that trains a recipe on SLURM nodes (requeued on time-out).",
}

USAGE = (
    "usage: python -m pipeline {"
    + ",".join(COMMANDS)
    + "} [options]\n\n"
    + "\n".join(f"  {name:<9} {text}" for name, text in COMMANDS.items())
    + "\n\n`python -m pipeline COMMAND --help` lists a command's options; `--version` the versions in use."
)


def versions() -> str:
    """This package's version and those of the libraries a bug report needs, read from the installed packages'
    metadata (nothing is imported: answering takes no torch start-up)."""
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    libraries = ("torch", "pytorch-lightning", "datasets", "tokenizers", "wandb", "torchmetrics")
    return (
        f"lstm-pipeline {installed('lstm-pipeline')} ("
        + ", ".join(f"{n} {installed(n)}" for n in libraries)
        + ")"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        print(versions())
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    command, args = argv[0], paths.with_recipes(argv[1:])
    verbose = "--verbose" in args or "--verbose=true" in args or os.environ.get("PIPELINE_VERBOSE") == "1"
    quiet_libraries()
    try:
        importlib.import_module(f"pipeline.commands.{command}").main(args)
        end_process_group()
    except USER_ERRORS as e:
        if isinstance(e, CollectiveStop):  # every rank stops here: end the group as after a success
            end_process_group()
        if verbose:
            raise
        print(f"error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    except (
        OSError
    ) as e:  # a user path the checks before the work could not foresee (a vanished file, a full disk)
        if verbose or not (e.filename or e.errno in USER_ERRNOS):
            raise
        where = f": '{e.filename}'" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    return 0


def end_process_group() -> None:
    # Imported here: most commands' errors need no torch (pipeline.trainer imports it).
    if "torch" in sys.modules:
        from pipeline.trainer import end_process_group as end

        end()


def quiet_libraries() -> None:
    """Keep the console for the run's own messages: libraries' chatter stays at warnings."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("datasets", "filelock", "fsspec", "urllib3", "httpx", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(lambda record: "Tip:" not in record.getMessage())
    # Lightning's own deprecation notices about its internals and our deliberate sampler choices.
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*custom batch sampler.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    # Both tasks' modules move their own batches (models/lit_base.py) while the data comes from a DataModule.
    warnings.filterwarnings(
        "ignore", message=r".*overridden `transfer_batch_to_device` in `LightningModule`.*"
    )
    # The final test scores the best checkpoint's average without the averaging callback, on purpose
    # (pipeline.trainer.stop_weight_averaging).
    warnings.filterwarnings(
        "ignore", message=r".*Please add the following callbacks: \['EMAWeightAveraging'\]"
    )


if __name__ == "__main__":
    sys.exit(main())
