"""What the Python APIs (pipeline/api.py and pipeline/onnx_runtime.py) take as texts: pure Python, no PyTorch."""

from __future__ import annotations


def texts(value, method: str) -> list:
    """`value` as a list of texts; one bare string is refused, since reading it as a list would score or tag
    each of its characters as a text of its own: an answer, and a wrong one."""
    if isinstance(value, str):
        raise TypeError(f"{method} takes a list of texts, not one string: {method}([text]).")
    return list(value)


def sentences(value, method: str) -> list[list[str]]:
    """Sentences as token lists: a string is split on whitespace, a list of tokens is kept as it is."""
    return [s.split() if isinstance(s, str) else list(s) for s in texts(value, method)]
