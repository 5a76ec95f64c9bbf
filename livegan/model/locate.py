"""Where a model file is found: the one the user names, else the one shipped in the package."""

from __future__ import annotations

from pathlib import Path

from livegan.errors import UserError
from livegan.shipped import model_file


def default_model_path() -> Path:
    """The model shipped in the package (``models/default.onnx`` in the source tree)."""
    return model_file("default.onnx")


def model_path(explicit: Path | None = None) -> Path:
    """``explicit``, else the shipped model; a shipped model that is missing is a :class:`UserError`.

    A missing ``explicit`` file is left to the engine, which names it.
    """
    if explicit is not None:
        return explicit
    path = default_model_path()
    if not path.is_file():
        raise UserError(f"no default model at '{path}': reinstall livegan, or pass --model FILE.onnx")
    return path
