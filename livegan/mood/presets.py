"""Moods: a point in Russell's valence/arousal plane plus rendering choices.

Named moods (uplifting, meditation, ...) are presets of it, read from a TOML file
(``configs/moods.toml`` by default). EMOPIA's quadrants map onto the plane:
Q1 = (+v, +a), Q2 = (-v, +a), Q3 = (-v, -a), Q4 = (+v, -a).

The tempo itself is the user's (``--bpm``, or the DAW's): a mood changes the
*feel* (swing, articulation) and the dynamics, so a take stays on the DAW's grid.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from livegan.errors import UserError
from livegan.shipped import config_file


@dataclass(frozen=True)
class Mood:
    """A point in the valence/arousal plane and how to play the notes generated there.

    valence, arousal : conditioning of the generator, each in [-1, 1].
    velocity : base MIDI velocity (1-127) of notes.
    dynamics : how far velocities move (+/-) with note probability and metric accents.
    swing : delay of off-beat 16th steps, as a fraction of a step (0 = straight, 0.33 = triplet feel).
    legato : share of a note's length that is held (1 = full, 0.5 = staccato).
    density : -1 (sparser) .. +1 (denser): moves the note threshold (see perform.threshold_for).
    programs : GM program (0-127) per track name, overriding the model's instruments.
    chord : pitch classes (0 = C) the voices should sound, from the keys a player holds or a chord
        chart (empty: the model chooses the harmony); ``bass`` the one the lowest voice should take (-1: any).
    avoid : MIDI pitches the player holds, which the voices do not double.
    given : notes a player fixed, (voice, start, end, MIDI pitch) in steps from the stream's first bar: a melody
        the voices harmonize (voice 0, the soprano), or a phrase the voices continue from.
    rests : ranges of bars [first, end) (the composer's bar numbers) where the voices rest: LiveGAN listens.
    idea : counts the player's "new idea" presses: a new count starts the music afresh from the next bar.
    variation : 0 (each phrase echoes the one before, loop-like) .. 0.5 (the model's own) .. 1 (restless).
    """

    name: str
    valence: float
    arousal: float
    velocity: int = 90
    dynamics: int = 16
    swing: float = 0.0
    legato: float = 1.0
    density: float = 0.0
    programs: dict[str, int] = field(default_factory=dict)
    chord: tuple[int, ...] = ()
    bass: int = -1
    avoid: tuple[int, ...] = ()
    given: tuple[tuple[int, int, int, int], ...] = ()
    rests: tuple[tuple[int, int], ...] = ()
    idea: int = 0
    variation: float = 0.5

    def __post_init__(self) -> None:
        for key, value, low, high in (
            ("valence", self.valence, -1.0, 1.0),
            ("arousal", self.arousal, -1.0, 1.0),
            ("velocity", self.velocity, 1, 127),
            ("dynamics", self.dynamics, 0, 63),
            ("swing", self.swing, 0.0, 0.5),
            ("legato", self.legato, 0.05, 1.0),
            ("density", self.density, -1.0, 1.0),
            ("variation", self.variation, 0.0, 1.0),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"mood '{self.name}': {key} must be in [{low}, {high}], got {value!r}")
        if not all(isinstance(c, int) and 0 <= c < 12 for c in self.chord) or not -1 <= self.bass < 12:
            raise ValueError(f"mood '{self.name}': chord must be pitch classes 0-11 and bass -1..11, got {self.chord}, {self.bass}")
        for track, program in self.programs.items():
            if not isinstance(program, int) or not 0 <= program <= 127:
                raise ValueError(f"mood '{self.name}': programs.{track} must be a GM program 0-127, got {program!r}")

    def harmonized(self, chord: tuple[int, ...] = (), bass: int = -1, avoid: tuple[int, ...] = ()) -> Mood:
        """The same mood over a held chord (pitch classes, the bass's; MIDI pitches not to double)."""
        return replace(self, chord=tuple(chord), bass=bass, avoid=tuple(avoid))

    def rests_in(self, bar: int) -> bool:
        """Whether the voices rest in bar ``bar`` (the composer's numbering)."""
        return any(first <= bar < end for first, end in self.rests)

    def at(self, valence: float | None = None, arousal: float | None = None, density: float | None = None) -> Mood:
        """The same rendering choices at another point of the plane (or another density)."""
        return replace(
            self,
            valence=self.valence if valence is None else valence,
            arousal=self.arousal if arousal is None else arousal,
            density=self.density if density is None else density,
        )

    def blend(self, other: Mood, frac: float) -> Mood:
        """The mood ``frac`` of the way from this one to ``other`` (0 = self, 1 = other).

        Numbers glide; names and instruments switch half-way; what the player plays (a chord, a phrase) applies at once.
        """
        if frac <= 0.0:
            return self
        if frac >= 1.0:
            return other

        def mix(a: float, b: float) -> float:
            return a + (b - a) * frac

        return replace(
            other if frac >= 0.5 else self, chord=other.chord, bass=other.bass, avoid=other.avoid, given=other.given,
            rests=other.rests, idea=other.idea, variation=other.variation,
            valence=mix(self.valence, other.valence), arousal=mix(self.arousal, other.arousal),
            velocity=int(round(mix(self.velocity, other.velocity))), dynamics=int(round(mix(self.dynamics, other.dynamics))),
            swing=mix(self.swing, other.swing), legato=mix(self.legato, other.legato), density=mix(self.density, other.density),
        )

    @property
    def point(self) -> tuple[float, float]:
        return (self.valence, self.arousal)

    def describe(self) -> str:
        density = f", density {self.density:+.2f}" if self.density else ""
        return f"{self.name} (valence {self.valence:+.2f}, arousal {self.arousal:+.2f}{density})"


def default_moods_path() -> Path:
    """The presets shipped in the package (``configs/moods.toml`` in the source tree)."""
    return config_file("moods.toml")


def load_moods(path: str | Path | None = None) -> list[Mood]:
    """Read mood presets from TOML: a list of ``[[mood]]`` tables, in program-change order."""
    path = Path(path) if path is not None else default_moods_path()
    data = read_toml(path)
    entries = data.get("mood")
    if not isinstance(entries, list) or not entries:
        raise UserError(f"mood file '{path}' has no [[mood]] tables: see configs/moods.toml for the format")
    moods = []
    for i, entry in enumerate(entries):
        try:
            moods.append(Mood(**entry))
        except (TypeError, ValueError) as exc:
            raise UserError(f"mood file '{path}', mood #{i + 1}: {exc}") from None
    names = [m.name for m in moods]
    if len(set(names)) != len(names):
        raise UserError(f"mood file '{path}' names a mood twice: {names}")
    return moods


def find_mood(moods: list[Mood], name: str) -> Mood:
    """The preset called ``name`` (case-insensitive), or a UserError listing the known ones."""
    for mood in moods:
        if mood.name.lower() == name.lower():
            return mood
    raise UserError(f"unknown mood '{name}': choose one of {', '.join(m.name for m in moods)}")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"config file '{path}' does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file '{path}' is not valid TOML: {exc}") from None
