"""`--input -`: standard input as a command's input file, read once per job.

Lightning's DDP launcher re-runs the command line in each worker process, and a worker cannot read what the
first process already consumed from the pipe. So the launching process copies standard input into a private
temporary file and names it in the environment, which the workers inherit; each worker then reads that file.
Under an outside launcher (torchrun, srun) every process was started by someone else, and only one of them
holds the pipe: that case is refused in one line rather than leaving the other ranks waiting.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile

from pipeline.errors import PipelineError

COPY = "LSTM_PIPELINE_STDIN"  # the copy's path, for the workers Lightning starts


def _world() -> int:
    """Processes the job already has at start: set by torchrun / Lightning's launcher (WORLD_SIZE) or srun."""
    for var in ("WORLD_SIZE", "SLURM_STEP_NUM_TASKS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


def stdin_file() -> str:
    """The path of a file holding standard input's bytes (the launching process's copy in a worker)."""
    copy = os.environ.get(COPY)
    if copy and os.path.isfile(copy):
        return copy
    if _world() > 1:
        raise PipelineError(
            "--input - (standard input) cannot be shared by processes another launcher started: write the "
            "text to a file, or let the pipeline start the processes (--trainer.devices N)."
        )
    if sys.stdin is None or sys.stdin.isatty():
        raise PipelineError(
            "--input - reads standard input, but nothing is piped in: pipe a file or name one."
        )
    fd, path = tempfile.mkstemp(prefix="lstm-pipeline-stdin-")
    with os.fdopen(fd, "wb") as f:
        f.write(sys.stdin.buffer.read())
    atexit.register(_remove, path)
    os.environ[COPY] = path
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
