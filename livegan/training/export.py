"""``livegan export``: a checkpoint -> an ONNX generator that carries its contract, checked twice.

The generator is rebuilt from the checkpoint's saved config, wrapped in an
export-only module that takes (``z`` [N, Z], ``mood`` [N, 2]) and returns ``roll``
[N, T, B, S, P] probabilities in [0, 1], exported with a dynamic batch axis, and
given the :class:`~livegan.contract.ModelInfo` JSON under metadata key
``livegan``. Then the same random inputs run through torch and ONNX Runtime
(they must agree within 1e-4), and the saved file is loaded the way the daemon
loads it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from livegan.contract import INPUT_LATENT, INPUT_MOOD, METADATA_KEY, OUTPUT_ROLL, ModelInfo
from livegan.errors import UserError
from livegan.training.checkpoint import load_checkpoint
from livegan.training.config import Config
from livegan.training.nets import Generator

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
OPSET = 17


class ExportedGenerator(nn.Module):
    """What the daemon runs: (z [N, Z], mood [N, 2]) -> roll [N, T, B, S, P] in [0, 1]."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator
        self.eval()  # batch norm uses its running statistics; the exporter restores this mode

    def forward(self, z: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        return (self.generator(z, mood.clamp(-1.0, 1.0)) + 1.0) * 0.5


def rebuild(checkpoint: str | Path) -> tuple[ExportedGenerator, ModelInfo]:
    """The eval-mode export module and its ModelInfo, from a checkpoint's config and weights."""
    state, meta = load_checkpoint(checkpoint)
    try:
        config = Config.from_dict(meta["config"], source=f"checkpoint '{checkpoint}'")
        info = ModelInfo.from_dict(meta["info"])
        generator = Generator(config.model, config.data, len(info.tracks))
        generator.load_state_dict(state["generator"])
    except (KeyError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise UserError(f"checkpoint '{checkpoint}' does not match its saved config ({first})") from None
    return ExportedGenerator(generator), info


def export_onnx(checkpoint: str | Path, out: str | Path, extra: dict[str, Any] | None = None,
                trained_on: str | None = None) -> ModelInfo:
    """Write ``out`` (.onnx) from ``checkpoint``; raises UserError when the numbers do not agree.

    ``extra`` is merged into the metadata's ``extra``; ``trained_on`` replaces the
    dataset description recorded at training time.
    """
    module, info = rebuild(checkpoint)
    changes = {"extra": {**info.extra, **(extra or {})}, "trained_on": trained_on or info.trained_on}
    info = ModelInfo.from_dict({**info.to_dict(), **changes})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")  # renamed to ``out`` only once every check passed
    try:
        _export_graph(module, info, partial)
        _attach_metadata(partial, info)
        difference = check_parity(module, partial, info)
        check_loads(partial, info)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    log.info("torch and ONNX Runtime agree within %.2e (max |diff|)", difference)
    return info


def _export_graph(module: ExportedGenerator, info: ModelInfo, out: Path) -> None:
    z = torch.randn(2, info.latent_size)
    mood = torch.zeros(2, 2)
    axes = {INPUT_LATENT: {0: "batch"}, INPUT_MOOD: {0: "batch"}, OUTPUT_ROLL: {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (z, mood), str(out), input_names=[INPUT_LATENT, INPUT_MOOD],
                          output_names=[OUTPUT_ROLL], dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def _attach_metadata(path: Path, info: ModelInfo) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    model.producer_name = "livegan"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def check_parity(module: ExportedGenerator, path: Path, info: ModelInfo, batch: int = 7, seed: int = 0) -> float:
    """Max |torch - ONNX Runtime| on random latents and moods; raises UserError above :data:`TOLERANCE`."""
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, info.latent_size, generator=gen)
    mood = torch.rand(batch, 2, generator=gen) * 2.0 - 1.0
    with torch.no_grad():
        expected = module(z, mood).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run([OUTPUT_ROLL], {INPUT_LATENT: z.numpy(), INPUT_MOOD: mood.numpy()})
    difference = float(np.abs(got - expected).max())
    if got.shape != expected.shape or not difference <= TOLERANCE:
        raise UserError(f"export check failed for '{str(path).removesuffix('.partial')}': ONNX Runtime differs "
                        f"from torch by {difference:.2e} (limit {TOLERANCE:.0e}); nothing was written")
    return difference


def check_loads(path: Path, info: ModelInfo) -> None:
    """Load the saved file as the daemon does (livegan.engine) and generate one phrase."""
    try:
        from livegan.engine import OnnxGenerator
    except ImportError:  # an engine-less checkout: onnxruntime + the contract are the daemon's checks
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        loaded = ModelInfo.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
        loaded.check_roll_shape(tuple(session.get_outputs()[0].shape))
        return
    engine = OnnxGenerator(path)
    specs = {spec.name: np.random.default_rng(0).standard_normal((1, *spec.shape)).astype(np.float32)
             for spec in engine.latents}
    roll = engine.generate(specs, np.zeros((1, 2), dtype=np.float32))
    if tuple(roll.shape[1:]) != info.roll_shape:
        raise UserError(f"'{path}' loads in the daemon but generates shape {roll.shape}, expected {info.roll_shape}")
