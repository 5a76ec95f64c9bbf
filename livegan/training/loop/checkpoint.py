"""Checkpoints: tensors and plain JSON, saved with torch.save and read with ``weights_only=True``.

A checkpoint is a dict of state dicts (MuseGAN's ``generator``, ``critic``,
``opt_g``, ``opt_d``; the LSTM's and the VAE's whole model under ``generator`` and
its optimiser under ``opt_g``), the ``step`` reached, and ``meta``: a JSON string
with the format tag, the resolved config (with its ``arch``; none means musegan),
the model's :class:`~livegan.model.contract.ModelInfo` dict and the training facts
(elapsed seconds, hardware). Code is never unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from livegan.errors import UserError

FORMAT = "livegan-checkpoint"
VERSION = 1
REQUIRED = ("generator", "step", "meta")  # what every architecture's checkpoint holds
ARCH_REQUIRED = {"musegan": ("critic",)}  # and what one architecture's needs besides


def save_checkpoint(path: Path, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, state dicts, ``step``) plus ``meta`` atomically (write then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**state, "meta": json.dumps({**meta, "format": FORMAT, "version": VERSION}, sort_keys=True)}
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, meta) of a LiveGAN checkpoint; a missing, truncated or foreign file raises a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint '{path}' does not exist: pass a .pt file from a run folder (runs/NAME/last.pt)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, pickle with code, not a torch file at all
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise UserError(f"checkpoint '{path}' cannot be read as a LiveGAN checkpoint ({reason})") from None
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED):
        raise UserError(f"checkpoint '{path}' is not a LiveGAN checkpoint (it lacks {', '.join(REQUIRED)})")
    try:
        meta = json.loads(state["meta"])
    except (TypeError, json.JSONDecodeError):
        raise UserError(f"checkpoint '{path}' is not a LiveGAN checkpoint (its meta is not JSON)") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise UserError(f"checkpoint '{path}' has format {meta.get('format')!r} version {meta.get('version')!r}, "
                        f"this LiveGAN reads {FORMAT} version {VERSION}")
    return state, meta


def require_parts(state: dict[str, Any], arch: str, path: str | Path) -> None:
    """A one-line UserError when a checkpoint lacks what its architecture needs (MuseGAN: its critic)."""
    missing = [k for k in ARCH_REQUIRED.get(arch, ()) if k not in state]
    if missing:
        raise UserError(f"checkpoint '{path}' is a {arch} checkpoint without its {', '.join(missing)}; "
                        "pass a checkpoint from a run folder (runs/NAME/last.pt)")
