"""The model contract: what an ONNX generator declares so the daemon can play it.

One documented place for the contract, shared by the torch-side exporter (which
writes it) and the ONNX engine (which checks it at load). No torch, no onnxruntime.

Two runtimes, named by the metadata field ``runtime``; the daemon, ``render`` and
``eval`` pick theirs from it, never from a flag.

``runtime = "phrase"`` (MuseGAN, the VAE's decoder): one call makes a phrase.

- input ``z``     float32 [N, latent_size], a latent drawn from N(0, 1).
- input ``mood``  float32 [N, 2], (valence, arousal), each in [-1, 1].
- any other float32 input is an extra latent (e.g. a temporal latent); the engine
  reads its name and shape from the model and feeds it from the latent walk.
- output ``roll`` float32 [N, tracks, bars, steps_per_bar, n_pitches], note
  probabilities in [0, 1]. Pitch index 0 is MIDI note ``lowest_pitch``.

``runtime = "step"`` (the LSTM): one call predicts one time step of the roll from
the step before and a recurrent state, so the daemon generates bar by bar and
carries the state across bars: what comes next continues what was played.

- input ``frame``     float32 [N, tracks, n_pitches], the notes sounding at the
  previous step (0 or 1; zeros before the first step).
- input ``position``  float32 [N, steps_per_bar], one-hot: the step of the bar
  being predicted.
- input ``mood``      float32 [N, 2], as above.
- input ``state``     float32 [N, latent_size], the recurrent state (zeros at the start).
- output ``logits``   float32 [N, tracks, n_pitches], each note's log-odds of sounding
  at this step; the engine samples it at ``sigmoid(logits / temperature)``.
- output ``state_out`` float32 [N, latent_size], the state to feed at the next step.

``runtime = "infill"`` (Coconet): the model fills in the unknown cells of a window of
monophonic voices given the known ones; the daemon samples it by annealed blocked Gibbs
(``iterations`` calls a bar), each new bar given the bars before it. Every track is
``monophonic``. A cell is one (track, step); its classes are the pitch struck, the pitch
held and the rest (:mod:`livegan.music.voices`); R = n_pitches + 1 rows (the last: rest).

- input ``notes``  float32 [N, tracks, 2, T, R], the known cells: plane 0 the pitch sounding,
  plane 1 the pitch struck; zeros where unknown. T is any number of steps.
- input ``mask``   float32 [N, tracks, T], 1 where a cell is unknown.
- input ``meter``  float32 [N, steps_per_beat + beats_per_bar + 1, T]: one-hot step in the
  beat, one-hot beat in the bar, and 1 under a fermata (where a phrase should cadence).
- input ``mood``   float32 [N, 3], (valence, arousal, known): known 0 leaves the mood to the model.
- output ``logits`` float32 [N, tracks, T, 2 * n_pitches + 1]: struck pitches, held pitches, rest.

An ``encoder`` (the VAE's) is a second ONNX file beside the model, named by the
metadata: input ``roll`` float32 [N, tracks, bars, steps_per_bar, n_pitches] (0 or
1) and ``mood``; output ``z`` float32 [N, latent_size], the latent whose decoding is
closest to the roll. ``livegan render --continue CLIP.mid`` uses it to play
variations of a user's clip; a step model continues a clip by running through it.

Metadata
--------
A JSON object under the ONNX ``metadata_props`` key ``livegan`` (see
:meth:`ModelInfo.to_json`). Every field is validated by :meth:`ModelInfo.from_dict`,
and errors name the field, the allowed range and the value received.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

METADATA_KEY = "livegan"
CONTRACT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: no runtime, encoder or temperature fields (phrase models)
INPUT_LATENT = "z"
INPUT_MOOD = "mood"
OUTPUT_ROLL = "roll"
RUNTIMES = ("phrase", "step", "infill")
INFILL_INPUT_NOTES = "notes"
INFILL_INPUT_MASK = "mask"
INFILL_INPUT_METER = "meter"
INFILL_MOOD_SIZE = 3
STEP_INPUT_FRAME = "frame"
STEP_INPUT_POSITION = "position"
STEP_INPUT_STATE = "state"
STEP_OUTPUT_LOGITS = "logits"
STEP_OUTPUT_STATE = "state_out"
ENCODER_INPUT_ROLL = "roll"
ENCODER_OUTPUT_LATENT = "z"
DRUM_CHANNEL = 9  # MIDI channel 10, zero-based


class ContractError(ValueError):
    """A model's metadata or tensors do not fit the contract."""


@dataclass(frozen=True)
class Track:
    """One instrument lane of the generated roll.

    ``program`` is the zero-based General MIDI program (0 = Acoustic Grand Piano);
    drum tracks play on channel 10 and their program is ignored by GM receivers.
    ``monophonic``: a voice (a chorale part, a quartet's instrument) that sounds one pitch
    at a time; decoding never sounds two pitches in it at one step.
    """

    name: str
    program: int = 0
    is_drum: bool = False
    monophonic: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """Everything the runtime needs to know about a generator, besides its weights."""

    tracks: tuple[Track, ...]
    lowest_pitch: int
    n_pitches: int
    steps_per_beat: int
    beats_per_bar: int
    bars: int
    latent_size: int
    threshold: float = 0.5
    moods: dict[str, tuple[float, float]] = field(default_factory=dict)
    trained_on: str = "unknown"
    architecture: str = "musegan"
    extra: dict[str, Any] = field(default_factory=dict)
    runtime: str = "phrase"
    encoder: str = ""
    temperature: float = 1.0
    iterations: int = 24  # an infill model's Gibbs passes per bar
    mood_strength: float = 1.0  # an infill model's classifier-free guidance: logits = u + strength * (c - u)

    def __post_init__(self) -> None:
        _check_int("lowest_pitch", self.lowest_pitch, 0, 127)
        _check_int("n_pitches", self.n_pitches, 1, 128 - self.lowest_pitch)
        _check_int("steps_per_beat", self.steps_per_beat, 1, 96)
        _check_int("beats_per_bar", self.beats_per_bar, 1, 16)
        _check_int("bars", self.bars, 1, 64)
        _check_int("latent_size", self.latent_size, 1, 65536)
        if not isinstance(self.threshold, (int, float)) or not 0.0 < self.threshold < 1.0:
            raise ContractError(f"threshold must be in (0, 1), got {self.threshold!r}")
        _check_tracks(self.tracks)
        if self.runtime not in RUNTIMES:
            raise ContractError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if not isinstance(self.encoder, str) or "/" in self.encoder or "\\" in self.encoder or self.encoder.startswith("."):
            raise ContractError(f"encoder must be a file name beside the model (no folders), got {self.encoder!r}")
        if not isinstance(self.temperature, (int, float)) or not 0.0 < self.temperature <= 10.0:
            raise ContractError(f"temperature must be in (0, 10], got {self.temperature!r}")
        _check_int("iterations", self.iterations, 1, 1000)
        if not isinstance(self.mood_strength, (int, float)) or not 0.0 <= self.mood_strength <= 10.0:
            raise ContractError(f"mood_strength must be in [0, 10], got {self.mood_strength!r}")
        if self.runtime == "infill" and not all(t.monophonic and not t.is_drum for t in self.tracks):
            raise ContractError("an infill model's tracks must all be monophonic voices (tracks.*.monophonic = true)")
        for name, point in self.moods.items():
            if len(point) != 2 or not all(-1.0 <= float(v) <= 1.0 for v in point):
                raise ContractError(f"moods.{name} must be [valence, arousal] in [-1, 1], got {point!r}")

    @property
    def steps_per_bar(self) -> int:
        """Time steps in one bar of the roll."""
        return self.steps_per_beat * self.beats_per_bar

    @property
    def roll_shape(self) -> tuple[int, int, int, int]:
        """Shape of one generated phrase: (tracks, bars, steps_per_bar, n_pitches)."""
        return (len(self.tracks), self.bars, self.steps_per_bar, self.n_pitches)

    @property
    def channels(self) -> tuple[int, ...]:
        """Zero-based MIDI channel of each track: drums on 9, the others in order, skipping 9."""
        melodic = iter(c for c in range(16) if c != DRUM_CHANNEL)
        return tuple(DRUM_CHANNEL if t.is_drum else next(melodic) for t in self.tracks)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready metadata object, with the contract version."""
        data = asdict(self)
        data["tracks"] = [asdict(t) for t in self.tracks]
        data["moods"] = {k: [float(v[0]), float(v[1])] for k, v in self.moods.items()}
        return {"contract": CONTRACT_VERSION, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Build and validate from the metadata object; raises ContractError."""
        if not isinstance(data, dict):
            raise ContractError(f"metadata must be a JSON object, got {type(data).__name__}")
        version = data.get("contract")
        if version not in READABLE_VERSIONS:
            raise ContractError(f"contract version {version!r} is not supported (this LiveGAN reads "
                                f"{', '.join(map(str, READABLE_VERSIONS))}); upgrade livegan or re-export the model")
        known = {f for f in cls.__dataclass_fields__}
        missing = [f for f in ("tracks", "lowest_pitch", "n_pitches", "steps_per_beat",
                               "beats_per_bar", "bars", "latent_size") if f not in data]
        if missing:
            raise ContractError(f"metadata lacks {', '.join(missing)}")
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            kwargs["tracks"] = tuple(Track(**t) for t in data["tracks"])
        except TypeError as exc:
            raise ContractError(f"tracks: each needs name, program, is_drum, and may say monophonic ({exc})") from None
        kwargs["moods"] = {str(k): (float(v[0]), float(v[1])) for k, v in data.get("moods", {}).items()}
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError(f"metadata is not valid JSON ({exc.msg} at {exc.pos})") from None
        return cls.from_dict(data)

    def check_roll_shape(self, shape: tuple[Any, ...]) -> None:
        """Check a declared output shape (batch axis first, may be symbolic) against the metadata."""
        want = self.roll_shape
        got = tuple(shape[1:])
        if len(shape) != 5 or any(isinstance(g, int) and g != w for g, w in zip(got, want)):
            raise ContractError(f"output '{OUTPUT_ROLL}' has shape {list(shape)}, metadata says [N, {', '.join(map(str, want))}]")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ContractError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def _check_tracks(tracks: tuple[Track, ...]) -> None:
    if not 1 <= len(tracks) <= 16:
        raise ContractError(f"tracks must hold 1 to 16 tracks, got {len(tracks)}")
    drums = sum(t.is_drum for t in tracks)
    if drums > 1:
        raise ContractError(f"at most one drum track fits MIDI channel 10, got {drums}")
    if len(tracks) - drums > 15:
        raise ContractError(f"at most 15 melodic tracks fit the 15 non-drum channels, got {len(tracks) - drums}")
    names = [t.name for t in tracks]
    if len(set(names)) != len(names):
        raise ContractError(f"track names must be unique, got {names}")
    for t in tracks:
        _check_int(f"tracks.{t.name}.program", t.program, 0, 127)
        if not isinstance(t.monophonic, bool) or (t.monophonic and t.is_drum):
            raise ContractError(f"tracks.{t.name}.monophonic must be true or false, and false for drums, got {t.monophonic!r}")


def decode_voices(probs: Any, active: Any, tracks: tuple[Track, ...], axis: int = 1) -> Any:
    """Keep one pitch per step in each monophonic track: the most probable of those that sound.

    probs, active : float and bool arrays of one shape, tracks on ``axis`` and pitches last
    (e.g. [N, tracks, bars, steps, pitches]). The contract's promise for a voice: decoding never
    sounds two pitches in it at one step. Returns the new ``active``.
    """
    import numpy as np

    probs, active = np.asarray(probs), np.asarray(active, dtype=bool)
    voices = [i for i, t in enumerate(tracks) if t.monophonic]
    if not voices:
        return active
    out = active.copy()
    chosen = np.take(active, voices, axis=axis)
    score = np.where(chosen, np.take(probs, voices, axis=axis), -np.inf)
    best = score.argmax(axis=-1)[..., None]
    keep = (np.arange(score.shape[-1]) == best) & chosen
    index = [slice(None)] * out.ndim
    index[axis] = voices
    out[tuple(index)] = keep
    return out
