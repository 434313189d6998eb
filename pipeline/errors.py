"""Errors the user can fix: every one ends the command with its message and a non-zero exit."""

from data_modules.errors import DataError
from models.errors import ModelConfigError


class PipelineError(RuntimeError):
    """A bad command line, config, run directory or checkpoint; the message is shown as is."""


USER_ERRORS = (PipelineError, DataError, ModelConfigError)
