"""Model engine: an ONNX Runtime session that turns latents and a mood into piano rolls.

The engine is the only module that touches onnxruntime. It validates the model
against :mod:`livegan.contract` at load, so a model that does not fit is refused
with a message naming the file and the mismatch, before any note is played.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livegan.contract import INPUT_LATENT, INPUT_MOOD, METADATA_KEY, OUTPUT_ROLL, ContractError, ModelInfo
from livegan.errors import UserError

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class LatentSpec:
    """A latent input of the model: its name and per-item shape (batch axis excluded)."""

    name: str
    shape: tuple[int, ...]


class OnnxGenerator:
    """A loaded, validated generator.

    Parameters
    ----------
    path : ONNX file carrying the LiveGAN metadata.
    device : ``"cpu"`` or ``"cuda"``; CUDA falls back to CPU with a warning when
        onnxruntime-gpu or a GPU is missing.
    threads : intra-op threads. The live daemon uses 1 so that generation leaves a
        core to the clock thread on small machines.
    """

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0) -> None:
        import onnxruntime as ort  # imported here so `livegan ports` stays light

        self.path = Path(path)
        if device not in DEVICES:
            raise UserError(f"unknown device '{device}': use one of {', '.join(DEVICES)}")
        if not self.path.is_file():
            raise UserError(f"model file '{self.path}' does not exist: pass --model with an ONNX file exported by 'livegan export'")
        ort.set_default_logger_severity(4)  # errors reach the user as one line of ours, not ORT's dump
        options = ort.SessionOptions()
        options.log_severity_level = 4
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=_providers(ort, device))
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"model file '{self.path}' is not a loadable ONNX model ({first[:200]})") from None
        self.provider = self.session.get_providers()[0]
        try:
            self.info = _read_info(self.session)
            self.latents = _check_tensors(self.session, self.info)
        except ContractError as exc:
            raise UserError(f"model file '{self.path}' does not fit LiveGAN's model contract: {exc}") from None

    def generate(self, latents: dict[str, np.ndarray], mood: np.ndarray) -> np.ndarray:
        """Run the model.

        Parameters
        ----------
        latents : name -> float32 [N, *shape] for every entry of :attr:`latents`.
        mood : float32 [N, 2], (valence, arousal) in [-1, 1].

        Returns
        -------
        float32 [N, tracks, bars, steps_per_bar, pitches], note probabilities in [0, 1].
        """
        feeds = {name: np.asarray(value, dtype=np.float32) for name, value in latents.items()}
        feeds[INPUT_MOOD] = np.clip(np.asarray(mood, dtype=np.float32), -1.0, 1.0)
        (roll,) = self.session.run([OUTPUT_ROLL], feeds)
        return roll

    def warm_up(self) -> float:
        """Run one generation so the first bar does not pay for lazy initialisation; returns seconds."""
        rng = np.random.default_rng(0)
        latents = {spec.name: rng.standard_normal((1, *spec.shape), dtype=np.float32) for spec in self.latents}
        start = time.perf_counter()
        self.generate(latents, np.zeros((1, 2), dtype=np.float32))
        return time.perf_counter() - start


def _providers(ort, device: str) -> list[str]:
    if device == "cuda":
        if "CUDAExecutionProvider" in ort.get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        log.warning("CUDA was asked for but onnxruntime has no CUDA provider (install onnxruntime-gpu); using the CPU")
    return ["CPUExecutionProvider"]


def _read_info(session) -> ModelInfo:
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ContractError(f"no '{METADATA_KEY}' metadata (export it with 'livegan export')")
    return ModelInfo.from_json(meta[METADATA_KEY])


def _check_tensors(session, info: ModelInfo) -> tuple[LatentSpec, ...]:
    """Check inputs and output against the metadata; return the latent inputs to feed."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    for name in (INPUT_LATENT, INPUT_MOOD):
        if name not in inputs:
            raise ContractError(f"input '{name}' is missing (inputs: {', '.join(inputs) or 'none'})")
    if OUTPUT_ROLL not in outputs:
        raise ContractError(f"output '{OUTPUT_ROLL}' is missing (outputs: {', '.join(outputs) or 'none'})")
    info.check_roll_shape(tuple(outputs[OUTPUT_ROLL].shape))
    _check_input(inputs[INPUT_MOOD], (2,))
    _check_input(inputs[INPUT_LATENT], (info.latent_size,))
    specs = []
    for name, arg in inputs.items():
        if name == INPUT_MOOD:
            continue
        dims = tuple(arg.shape[1:])
        if arg.type != "tensor(float)" or not all(isinstance(d, int) and d > 0 for d in dims):
            raise ContractError(f"extra input '{name}' must be float32 with fixed non-batch dims, got {arg.type} {list(arg.shape)}")
        specs.append(LatentSpec(name, dims))
    return tuple(specs)


def _check_input(arg, dims: tuple[int, ...]) -> None:
    got = tuple(arg.shape[1:])
    if arg.type != "tensor(float)" or len(arg.shape) != 1 + len(dims) or any(
        isinstance(g, int) and g != d for g, d in zip(got, dims)
    ):
        raise ContractError(f"input '{arg.name}' must be float32 [N, {', '.join(map(str, dims))}], got {arg.type} {list(arg.shape)}")
