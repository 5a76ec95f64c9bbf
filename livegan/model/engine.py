"""Model engine: an ONNX Runtime session that turns latents and a mood into piano rolls.

The engine is the only module that touches onnxruntime. It validates the model
against :mod:`livegan.model.contract` at load, so a model that does not fit is refused
with a message naming the file and the mismatch, before any note is played.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livegan.errors import UserError
from livegan.model.contract import (
    ENCODER_INPUT_ROLL,
    ENCODER_OUTPUT_LATENT,
    INFILL_INPUT_MASK,
    INFILL_INPUT_METER,
    INFILL_INPUT_NOTES,
    INFILL_MOOD_SIZE,
    INPUT_LATENT,
    INPUT_MOOD,
    METADATA_KEY,
    OUTPUT_ROLL,
    STEP_INPUT_FRAME,
    STEP_INPUT_POSITION,
    STEP_INPUT_STATE,
    STEP_OUTPUT_LOGITS,
    STEP_OUTPUT_STATE,
    ContractError,
    ModelInfo,
    decode_voices,
)

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

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0, _opened=None) -> None:
        self.path = Path(path)
        self.session, self.provider, self.info = _opened or _open_session(self.path, device, threads)
        try:
            if self.info.runtime != "phrase":
                raise ContractError(f"it is a '{self.info.runtime}' model; load it with livegan.model.engine.load_model")
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


NOISE_INPUT = "noise"  # a step model's latent: the N(0, 1) noise its notes are sampled with


@dataclass(frozen=True)
class StepContext:
    """Where a step model stands after the music it made or heard, one row per stream.

    state : float32 [N, latent_size], the recurrent state after the last step.
    frame : float32 [N, tracks, pitches], the notes of the last step (0 or 1).
    """

    state: np.ndarray
    frame: np.ndarray

    def row(self, index: int) -> StepContext:
        """Row ``index`` alone, as a context of one stream."""
        return StepContext(self.state[index:index + 1], self.frame[index:index + 1])

    def repeat(self, n: int) -> StepContext:
        """A one-row context repeated for ``n`` rows (candidates continuing the same music)."""
        return StepContext(np.repeat(self.state, n, axis=0), np.repeat(self.frame, n, axis=0))


class OnnxStepGenerator:
    """A loaded step model (runtime ``"step"``, e.g. the LSTM): one ONNX call per time step.

    The daemon generates bar by bar with :meth:`continue_bars`, carrying the
    :class:`StepContext` from each bar to the next, so the music continues what was
    played. Notes are sampled from ``sigmoid(logits / temperature)`` with the noise
    the latent walk supplies as the latent ``noise`` [bars * steps_per_bar, tracks,
    pitches]: a note sounds where ``Phi(noise) < p``. The same noise gives the same
    notes, so a seed renders the same piece and guidance can compare candidates.
    """

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0, _opened=None) -> None:
        self.path = Path(path)
        self.session, self.provider, self.info = _opened or _open_session(self.path, device, threads)
        try:
            if self.info.runtime != "step":
                raise ContractError(f"it is a '{self.info.runtime}' model, not a step model")
            _check_step_tensors(self.session, self.info)
        except ContractError as exc:
            raise UserError(f"model file '{self.path}' does not fit LiveGAN's model contract: {exc}") from None
        info = self.info
        self.latents = (LatentSpec(NOISE_INPUT, (info.bars * info.steps_per_bar, len(info.tracks), info.n_pitches)),)
        self.temperature = info.temperature  # the contract checked it; set_temperature changes it
        self._positions = np.eye(info.steps_per_bar, dtype=np.float32)

    def start(self, n: int = 1) -> StepContext:
        """The context before any music: zero state, silent frame."""
        t, p = len(self.info.tracks), self.info.n_pitches
        return StepContext(np.zeros((n, self.info.latent_size), np.float32), np.zeros((n, t, p), np.float32))

    def continue_bars(self, latents: dict[str, np.ndarray], mood: np.ndarray, context: StepContext | None = None,
                      bars: int | None = None) -> tuple[np.ndarray, StepContext]:
        """Sample ``bars`` bars (default: the model's phrase) after ``context`` (default: the start).

        Returns the roll float32 [N, tracks, bars, steps_per_bar, pitches] of 0s and 1s
        and the context after its last step.
        """
        info = self.info
        bars = info.bars if bars is None else bars
        steps = bars * info.steps_per_bar
        noise = np.asarray(latents[NOISE_INPUT], dtype=np.float32)
        if noise.shape[1] < steps:
            raise ValueError(f"noise covers {noise.shape[1]} steps, {steps} are asked for")
        uniform = _normal_cdf(noise[:, :steps])
        mood = np.clip(np.asarray(mood, dtype=np.float32), -1.0, 1.0)
        context = context or self.start(len(mood))
        state, frame = context.state, context.frame
        out = np.zeros((len(mood), steps, len(info.tracks), info.n_pitches), np.float32)
        for t in range(steps):
            logits, state = self._step(frame, t % info.steps_per_bar, mood, state)
            probs = _sigmoid(logits / self.temperature)
            frame = decode_voices(probs, uniform[:, t] < probs, info.tracks).astype(np.float32)
            out[:, t] = frame
        roll = out.reshape(len(mood), bars, info.steps_per_bar, len(info.tracks), info.n_pitches).transpose(0, 3, 1, 2, 4)
        return np.ascontiguousarray(roll), StepContext(state, frame)

    def listen(self, roll: np.ndarray, mood: np.ndarray, context: StepContext | None = None) -> StepContext:
        """Run through music that was played (bool [N, tracks, steps, pitches], step 0 on a downbeat): its context."""
        roll = np.asarray(roll, dtype=np.float32)
        mood = np.clip(np.asarray(mood, dtype=np.float32), -1.0, 1.0)
        context = context or self.start(len(roll))
        state, frame = context.state, context.frame
        for t in range(roll.shape[2]):
            _, state = self._step(frame, t % self.info.steps_per_bar, mood, state)
            frame = roll[:, :, t]
        return StepContext(state, np.ascontiguousarray(frame))

    def generate(self, latents: dict[str, np.ndarray], mood: np.ndarray) -> np.ndarray:
        """A phrase per row from the start, as a phrase model would: float32 [N, T, B, S, P] of 0s and 1s."""
        return self.continue_bars(latents, mood)[0]

    def warm_up(self) -> float:
        """One step, so the first bar does not pay for lazy initialisation; returns seconds."""
        context = self.start(1)
        start = time.perf_counter()
        self._step(context.frame, 0, np.zeros((1, 2), np.float32), context.state)
        return time.perf_counter() - start

    def _step(self, frame: np.ndarray, position: int, mood: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feeds = {STEP_INPUT_FRAME: frame, STEP_INPUT_POSITION: np.repeat(self._positions[position:position + 1], len(frame), 0),
                 INPUT_MOOD: mood, STEP_INPUT_STATE: state}
        logits, state = self.session.run([STEP_OUTPUT_LOGITS, STEP_OUTPUT_STATE], feeds)
        return logits, state


class OnnxInfillGenerator:
    """A loaded infilling model (runtime ``"infill"``, e.g. Coconet): the unknown cells' class logits given the known.

    :mod:`livegan.generation.gibbs` samples it, ``info.iterations`` calls a bar; it has no latents
    (its randomness is the sampler's).
    """

    latents: tuple[LatentSpec, ...] = ()

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0, _opened=None) -> None:
        self.path = Path(path)
        self.session, self.provider, self.info = _opened or _open_session(self.path, device, threads)
        try:
            if self.info.runtime != "infill":
                raise ContractError(f"it is a '{self.info.runtime}' model, not an infill model")
            _check_infill_tensors(self.session, self.info)
        except ContractError as exc:
            raise UserError(f"model file '{self.path}' does not fit LiveGAN's model contract: {exc}") from None
        self.temperature = self.info.temperature
        self.iterations = self.info.iterations

    def predict(self, notes: np.ndarray, mask: np.ndarray, meter: np.ndarray, mood: np.ndarray) -> np.ndarray:
        """notes [N, V, 2, T, R], mask [N, V, T], meter [N, F, T], mood [N, 3] -> logits float32 [N, V, T, 2P + 1]."""
        feeds = {INFILL_INPUT_NOTES: np.asarray(notes, dtype=np.float32), INFILL_INPUT_MASK: np.asarray(mask, dtype=np.float32),
                 INFILL_INPUT_METER: np.asarray(meter, dtype=np.float32), INPUT_MOOD: np.asarray(mood, dtype=np.float32)}
        (logits,) = self.session.run([STEP_OUTPUT_LOGITS], feeds)
        return logits

    def warm_up(self) -> float:
        """One call on a bar of silence, so the first bar does not pay for lazy initialisation; returns seconds."""
        info, steps = self.info, self.info.steps_per_bar
        v, rows = len(info.tracks), info.n_pitches + 1
        start = time.perf_counter()
        self.predict(np.zeros((1, v, 2, steps, rows)), np.ones((1, v, steps)),
                     np.zeros((1, info.steps_per_beat + info.beats_per_bar + 1, steps)), np.zeros((1, INFILL_MOOD_SIZE)))
        return time.perf_counter() - start


class OnnxEncoder:
    """A model's encoder (the VAE's): a roll and a mood -> the latent ``z`` that decodes closest to it."""

    def __init__(self, model: OnnxGenerator | OnnxStepGenerator) -> None:
        info = model.info
        if not info.encoder:
            raise UserError(f"model '{model.path}' ({info.architecture}) has no encoder, so it cannot vary a clip; "
                            "use a VAE model, or a step model (LSTM), which continues it")
        self.path = model.path.with_name(info.encoder)
        if not self.path.is_file():
            raise UserError(f"model '{model.path}' names its encoder '{info.encoder}', which is not beside it: "
                            "keep the two files of an export together")
        self.session, _, _ = _open_session(self.path, "cpu", 0)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if ENCODER_INPUT_ROLL not in inputs or INPUT_MOOD not in inputs or ENCODER_OUTPUT_LATENT not in outputs:
            raise UserError(f"encoder '{self.path}' does not fit LiveGAN's model contract: it needs inputs "
                            f"'{ENCODER_INPUT_ROLL}', '{INPUT_MOOD}' and output '{ENCODER_OUTPUT_LATENT}'")

    def encode(self, roll: np.ndarray, mood: np.ndarray) -> np.ndarray:
        """bool [N, T, B, S, P], mood [N, 2] -> z float32 [N, latent_size]."""
        feeds = {ENCODER_INPUT_ROLL: np.asarray(roll, dtype=np.float32),
                 INPUT_MOOD: np.clip(np.asarray(mood, dtype=np.float32), -1.0, 1.0)}
        (z,) = self.session.run([ENCODER_OUTPUT_LATENT], feeds)
        return z


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) of the standard normal, within 1e-7 (Abramowitz & Stegun 7.1.26 for erf); no scipy."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return (0.5 * (1.0 + np.sign(x) * erf)).astype(np.float32)


def _open_session(path: Path, device: str, threads: int):
    """(session, provider, ModelInfo) of an ONNX file; every failure is a one-line UserError naming the file."""
    import onnxruntime as ort  # imported here so `livegan ports` stays light

    if device not in DEVICES:
        raise UserError(f"unknown device '{device}': use one of {', '.join(DEVICES)}")
    if not path.is_file():
        raise UserError(f"model file '{path}' does not exist: pass --model with an ONNX file exported by 'livegan export'")
    ort.set_default_logger_severity(4)  # errors reach the user as one line of ours, not ORT's dump
    options = ort.SessionOptions()
    options.log_severity_level = 4
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=_providers(ort, device))
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"model file '{path}' is not a loadable ONNX model ({first[:200]})") from None
    try:
        info = _read_info(session)
    except ContractError as exc:
        raise UserError(f"model file '{path}' does not fit LiveGAN's model contract: {exc}") from None
    return session, session.get_providers()[0], info


AnyModel = OnnxGenerator | OnnxStepGenerator | OnnxInfillGenerator


def load_model(path: str | Path, device: str = "cpu", threads: int = 0) -> AnyModel:
    """The generator an ONNX file declares, chosen by its metadata's ``runtime``: phrase, step or infill."""
    path = Path(path)
    opened = _open_session(path, device, threads)
    kind = {"step": OnnxStepGenerator, "infill": OnnxInfillGenerator}.get(opened[2].runtime, OnnxGenerator)
    return kind(path, _opened=opened)


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
        isinstance(g, int) and d is not None and g != d for g, d in zip(got, dims)
    ):
        shown = ", ".join("T" if d is None else str(d) for d in dims)
        raise ContractError(f"input '{arg.name}' must be float32 [N, {shown}], got {arg.type} {list(arg.shape)}")


def _check_step_tensors(session, info: ModelInfo) -> None:
    """A step model's inputs and outputs against the contract (livegan/contract.py)."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    tracks, pitches = len(info.tracks), info.n_pitches
    want_in = {STEP_INPUT_FRAME: (tracks, pitches), STEP_INPUT_POSITION: (info.steps_per_bar,), INPUT_MOOD: (2,),
               STEP_INPUT_STATE: (info.latent_size,)}
    for name, dims in want_in.items():
        if name not in inputs:
            raise ContractError(f"step input '{name}' is missing (inputs: {', '.join(inputs) or 'none'})")
        _check_input(inputs[name], dims)
    extra = set(inputs) - set(want_in)
    if extra:
        raise ContractError(f"a step model takes no other inputs, got {', '.join(sorted(extra))}")
    for name, dims in {STEP_OUTPUT_LOGITS: (tracks, pitches), STEP_OUTPUT_STATE: (info.latent_size,)}.items():
        if name not in outputs:
            raise ContractError(f"step output '{name}' is missing (outputs: {', '.join(outputs) or 'none'})")
        _check_input(outputs[name], dims)


def _check_infill_tensors(session, info: ModelInfo) -> None:
    """An infill model's inputs and output against the contract (their time axes are free)."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    v, rows = len(info.tracks), info.n_pitches + 1
    want = {INFILL_INPUT_NOTES: (v, 2, None, rows), INFILL_INPUT_MASK: (v, None),
            INFILL_INPUT_METER: (info.steps_per_beat + info.beats_per_bar + 1, None), INPUT_MOOD: (INFILL_MOOD_SIZE,)}
    for name, dims in want.items():
        if name not in inputs:
            raise ContractError(f"infill input '{name}' is missing (inputs: {', '.join(inputs) or 'none'})")
        _check_input(inputs[name], dims)
    extra = set(inputs) - set(want)
    if extra:
        raise ContractError(f"an infill model takes no other inputs, got {', '.join(sorted(extra))}")
    if STEP_OUTPUT_LOGITS not in outputs:
        raise ContractError(f"infill output '{STEP_OUTPUT_LOGITS}' is missing (outputs: {', '.join(outputs) or 'none'})")
    _check_input(outputs[STEP_OUTPUT_LOGITS], (v, None, 2 * info.n_pitches + 1))


def set_iterations(generator: AnyModel, iterations: int) -> None:
    """Set an infill model's Gibbs passes per bar (fewer: faster, rougher); other models have none (one-line UserError)."""
    if generator.info.runtime != "infill":
        raise UserError(f"--iterations applies to infill models (Coconet); '{generator.path}' is a "
                        f"{generator.info.runtime} model ({generator.info.architecture})")
    if not 1 <= iterations <= 1000:
        raise UserError(f"iterations must be in [1, 1000], got {iterations}")
    generator.iterations = int(iterations)


def set_temperature(generator: AnyModel, temperature: float) -> None:
    """Set a step or infill model's sampling temperature; a phrase model has none, which is a one-line UserError."""
    if generator.info.runtime == "phrase":
        raise UserError(f"--temperature applies to step (LSTM) and infill (Coconet) models; '{generator.path}' is a "
                        f"{generator.info.runtime} model ({generator.info.architecture}): use --threshold instead")
    if not 0.0 < temperature <= 10.0:
        raise UserError(f"temperature must be in (0, 10], got {temperature}")
    generator.temperature = float(temperature)
