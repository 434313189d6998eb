"""Errors the user can fix: every one ends the command with its message and a non-zero exit."""

from data_modules.errors import DataError
from models.errors import ModelConfigError


class PipelineError(RuntimeError):
    """A bad command line, config, run directory or checkpoint; the message is shown as is."""


class CollectiveStop(PipelineError):
    """Raised on every rank at once, after the ranks agreed to stop (a collective decision, as a non-finite loss):
    no rank is left inside a collective, so each can end its process group before it exits."""


USER_ERRORS = (PipelineError, DataError, ModelConfigError)
