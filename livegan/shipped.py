"""Files shipped inside the package, found one way: through :mod:`importlib.resources`.

The top-level ``configs/`` and ``models/`` folders are installed as ``livegan.configs`` and
``livegan.models`` (see ``pyproject.toml``), so a checkout and an installed livegan find the
same files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def config_file(name: str) -> Path:
    """A shipped config: ``config_file("moods.toml")`` is ``configs/moods.toml`` in the source tree."""
    return Path(str(resources.files("livegan.configs").joinpath(name)))


def model_file(name: str) -> Path:
    """A shipped model: ``model_file("default.onnx")`` is ``models/default.onnx`` in the source tree."""
    return Path(str(resources.files("livegan.models").joinpath(name)))
