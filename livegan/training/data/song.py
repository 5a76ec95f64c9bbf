"""A source piece on the phrase grid, and the track sets the sources map to.

Every source reader (music21 corpus, LPD-5 .npz, MIDI folder) produces
:class:`Song` objects: a boolean roll [tracks, steps, 128] on the grid of
``steps_per_beat`` steps a quarter note, whose step 0 is a downbeat, plus the
tempo and an optional (valence, arousal) label. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from livegan.model.contract import Track
from livegan.music.roll import Note, notes_to_roll
from livegan.music.voices import notes_to_voices, roll_of

# LPD-5 (and MuseGAN v3) track order and programs.
LPD5_TRACKS: tuple[Track, ...] = (
    Track("Drums", 0, True),
    Track("Piano", 0),
    Track("Guitar", 24),
    Track("Bass", 32),
    Track("Strings", 48),
)

# The four voices of a chorale or a string quartet, played by a string quartet
# (GM 40 Violin, 41 Viola, 42 Cello): sustained, voice-led lines.
SATB_TRACKS: tuple[Track, ...] = (
    Track("Soprano", 40, monophonic=True),
    Track("Alto", 40, monophonic=True),
    Track("Tenor", 41, monophonic=True),
    Track("Bass", 42, monophonic=True),
)


@dataclass
class Song:
    """One piece on the grid.

    roll : bool [tracks, steps, 128], MIDI pitch on the last axis; step 0 is a downbeat.
    qpm : tempo in quarter notes per minute (the first tempo of the piece).
    label : (valence, arousal) in [-1, 1], or ``None`` where it must be computed.
    onsets : bool [tracks, steps, 128] where notes are struck (monophonic songs), else ``None``.
    fermatas : bool [steps] under a fermata in the score, else ``None``.
    """

    name: str
    roll: np.ndarray
    qpm: float = 120.0
    label: tuple[float, float] | None = None
    onsets: np.ndarray | None = None
    fermatas: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return int(self.roll.shape[1])


def song_from_notes(name: str, notes: Iterable[Note], n_tracks: int, qpm: float,
                    label: tuple[float, float] | None = None, monophonic: bool = False,
                    fermatas: Iterable[int] = ()) -> Song:
    """Notes on the grid (steps, MIDI pitches) -> a :class:`Song`; repeated notes keep their onsets.

    A note that ends exactly where the next note of the same pitch and track starts
    is shortened by one step, so the two stay two notes in the boolean roll (MuseGAN
    does the same). Notes that start before step 0 are dropped.

    ``monophonic``: each track is one voice (:func:`~livegan.music.voices.notes_to_voices`:
    the latest note struck sounds); notes keep their full length and the onsets say where
    each is struck. ``fermatas`` are the steps under a fermata.
    """
    notes = [n for n in notes if n.start >= 0 and n.end > n.start]
    if not monophonic:
        kept = separate_repeats(notes)
        steps = max((n.end for n in kept), default=0)
        return Song(name, notes_to_roll(kept, n_tracks, steps, 0, 128), float(qpm), label)
    steps = max((n.end for n in notes), default=0)
    pitch, onset = notes_to_voices(notes, n_tracks, steps, 0, 128)
    roll = roll_of(pitch, 128)
    marks = np.zeros(steps, dtype=bool)
    marks[[f for f in fermatas if 0 <= f < steps]] = True
    return Song(name, roll, float(qpm), label, onsets=roll & onset[..., None], fermatas=marks)


def separate_repeats(notes: list[Note]) -> list[Note]:
    """Shorten by one step each note that is immediately followed by the same pitch on the same track."""
    starts = {(n.track, n.pitch, n.start) for n in notes}
    out = []
    for n in notes:
        if (n.track, n.pitch, n.end) in starts and n.length > 1:
            n = Note(n.start, n.end - 1, n.pitch, n.track, n.velocity)
        out.append(n)
    return out


def to_step(beats: float, steps_per_beat: int) -> int:
    """A time in quarter notes -> the nearest grid step."""
    return int(round(beats * steps_per_beat))
