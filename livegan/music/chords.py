"""Chords: symbols and held keys as pitch classes, and the names a musician would read.

A :class:`Chord` is a set of pitch classes (0 = C) and its bass (the lowest note's pitch class),
which the infilling runtime steers its voices towards. Pure Python.

Symbols: a root (``C``, ``F#``, ``Bb``), a quality (none = major, ``m``, ``dim``, ``aug``, ``sus2``,
``sus4``, ``6``, ``m6``, ``7``, ``maj7``, ``m7``, ``m7b5``, ``dim7``, ``9``, ``add9``) and an optional
bass (``/E``). ``N`` (or ``-``) is no chord: the model chooses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from livegan.errors import UserError

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "m": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus2": (0, 2, 7), "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "9": (0, 4, 7, 10, 2), "add9": (0, 4, 7, 2),
}
_ALIASES = {"M": "", "maj": "", "min": "m", "-": "m", "+": "aug", "o": "dim", "ø": "m7b5", "M7": "maj7", "sus": "sus4"}
_SYMBOL = re.compile(r"^([A-Ga-g])([#b]?)([^/]*)(?:/([A-Ga-g][#b]?))?$")


@dataclass(frozen=True)
class Chord:
    """Pitch classes (sorted, 0 = C) and the bass's pitch class."""

    pitch_classes: tuple[int, ...]
    bass: int

    @property
    def name(self) -> str:
        return chord_name(self.pitch_classes, self.bass)


def pitch_class(name: str) -> int:
    """``C`` -> 0, ``F#`` -> 6, ``Bb`` -> 10."""
    letter, accidental = name[0].upper(), name[1:]
    return (_LETTERS[letter] + {"": 0, "#": 1, "b": -1}[accidental]) % 12


def parse_chord(symbol: str) -> Chord | None:
    """A chord symbol -> :class:`Chord` (``N`` or ``-``: None); a symbol it cannot read is a one-line UserError."""
    text = symbol.strip()
    if text in ("N", "-", "NC", "N.C."):
        return None
    match = _SYMBOL.match(text)
    quality = match and _ALIASES.get(match.group(3), match.group(3))
    if not match or quality not in QUALITIES:
        raise UserError(f"chord '{symbol}' is not a chord symbol: write e.g. C, Am, F#m7, Bb/D, G7, Cmaj7, Edim, Csus4, "
                        "or N for none")
    root = pitch_class(match.group(1) + match.group(2))
    bass = pitch_class(match.group(4)) if match.group(4) else root
    classes = {(root + i) % 12 for i in QUALITIES[quality]} | {bass}
    return Chord(tuple(sorted(classes)), bass)


def parse_progression(text: str) -> list[Chord | None]:
    """``"C G Am F"`` (spaces, commas or bars ``|`` between) -> one chord per bar."""
    symbols = [s for s in re.split(r"[\s,|]+", text.strip()) if s]
    if not symbols:
        raise UserError("--chords needs at least one chord symbol, e.g. --chords \"C G Am F\"")
    return [parse_chord(s) for s in symbols]


def chord_of(pitches: Iterable[int]) -> Chord | None:
    """Held MIDI pitches -> their chord (the bass is the lowest); None when nothing is held."""
    pitches = sorted(set(pitches))
    if not pitches:
        return None
    return Chord(tuple(sorted({p % 12 for p in pitches})), pitches[0] % 12)


def chord_name(pitch_classes: Iterable[int], bass: int | None = None) -> str:
    """The name a musician reads: the smallest template that holds every class (only its fifth may be missing),
    rooted on the bass where one fits, else a slash chord; ``{C D E}`` when no template fits."""
    classes = set(pitch_classes)
    if not classes:
        return "N"
    candidates = []
    for root in range(12):
        for quality, steps in QUALITIES.items():
            template = {(root + s) % 12 for s in steps}
            if classes - template - ({bass} if bass is not None else set()):
                continue
            missing = template - classes
            if len(missing) > 1 or (missing and missing != {(root + 7) % 12}):
                continue
            slash = f"/{NAMES[bass]}" if bass is not None and bass != root else ""
            candidates.append((len(missing), bass is not None and root != bass, len(steps), NAMES[root] + quality + slash))
    if not candidates:
        return "{" + " ".join(NAMES[c] for c in sorted(classes)) + "}"
    return min(candidates)[3]
