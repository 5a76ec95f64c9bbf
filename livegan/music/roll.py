"""Piano roll <-> notes: pure numpy, the musical representation's first half.

A *roll* here is a boolean array [tracks, steps, pitches] (a phrase's bars laid end
to end, ``roll.reshape(tracks, bars * steps_per_bar, pitches)``); pitch index 0 is
MIDI note ``lowest_pitch``. A :class:`Note` counts time in steps of that grid.

- Melodic tracks: consecutive active steps of one pitch merge into one held note.
- Drum tracks: every active step is a hit one step long (MuseGAN keeps drum onsets only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, order=True)
class Note:
    """One note on the step grid; ``end`` is exclusive, so the length is ``end - start`` steps."""

    start: int
    end: int
    pitch: int
    track: int
    velocity: int = 100

    @property
    def length(self) -> int:
        return self.end - self.start


def binarize(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Note probabilities in [0, 1] -> booleans; a cell sounds when its probability exceeds ``threshold``."""
    return np.asarray(probs) > threshold


def flatten_bars(roll: np.ndarray) -> np.ndarray:
    """[tracks, bars, steps_per_bar, pitches] -> [tracks, bars * steps_per_bar, pitches]."""
    tracks, bars, steps, pitches = roll.shape
    return roll.reshape(tracks, bars * steps, pitches)


def roll_to_notes(roll: np.ndarray, lowest_pitch: int, drums: Sequence[bool]) -> list[Note]:
    """Boolean roll [tracks, steps, pitches] -> notes sorted by (start, end, pitch, track).

    ``drums[i]`` says whether track ``i`` is a drum track (hits, not held notes).
    """
    roll = np.asarray(roll, dtype=bool)
    if roll.ndim != 3 or roll.shape[0] != len(drums):
        raise ValueError(f"roll must be [tracks={len(drums)}, steps, pitches], got shape {roll.shape}")
    notes: list[Note] = []
    for track, is_drum in enumerate(drums):
        lane = roll[track]
        if is_drum:
            steps, pitches = np.nonzero(lane)
            notes.extend(Note(int(s), int(s) + 1, lowest_pitch + int(p), track) for s, p in zip(steps, pitches))
        else:
            notes.extend(_held_notes(lane, lowest_pitch, track))
    return sorted(notes)


def _held_notes(lane: np.ndarray, lowest_pitch: int, track: int) -> Iterable[Note]:
    """Runs of active steps per pitch: onsets where a cell turns on, offsets where it turns off."""
    padded = np.pad(lane.astype(np.int8), ((1, 1), (0, 0)))
    edges = np.diff(padded, axis=0)  # +1 at onset step, -1 at the step after the last active one
    on_step, on_pitch = np.nonzero(edges == 1)
    off_step, off_pitch = np.nonzero(edges == -1)
    on, off = np.lexsort((on_step, on_pitch)), np.lexsort((off_step, off_pitch))  # pair runs pitch by pitch
    for s, e, p in zip(on_step[on].tolist(), off_step[off].tolist(), on_pitch[on].tolist()):
        yield Note(s, e, lowest_pitch + p, track)


def notes_to_roll(notes: Iterable[Note], n_tracks: int, n_steps: int, lowest_pitch: int, n_pitches: int) -> np.ndarray:
    """Notes -> boolean roll [n_tracks, n_steps, n_pitches]; notes outside the window are cut or dropped."""
    roll = np.zeros((n_tracks, n_steps, n_pitches), dtype=bool)
    for note in notes:
        p = note.pitch - lowest_pitch
        if 0 <= p < n_pitches and 0 <= note.track < n_tracks:
            roll[note.track, max(note.start, 0):min(note.end, n_steps), p] = True
    return roll
