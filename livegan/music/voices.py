"""Monophonic voices: one pitch or a rest per voice per step, a held note distinct from a repeated one.

The representation of a chorale or quartet voice, shared by training (the phrase dataset's
``onsets``), the infilling runtime and evaluation. Pure numpy.

A *voice grid* is two arrays over (voice, step):

- ``pitch``  int16 [V, T]: the pitch index sounding (0 = MIDI ``lowest_pitch``), or :data:`REST`;
- ``onset``  bool [V, T]: a note is struck at this step (False where the voice rests).

A step whose pitch equals the step before's and has no onset *holds* that note; the same
pitch with an onset repeats it. A step with a pitch but no onset after a rest or another
pitch (an ill-formed hold) starts a note: a hold continues the note before or nothing.

The model's classes per cell (:func:`to_classes`): ``0..P-1`` pitch struck, ``P..2P-1``
pitch held, ``2P`` rest; ``2P + 1`` classes in all.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from livegan.music.roll import Note

REST = -1


def n_classes(n_pitches: int) -> int:
    """Classes per (voice, step): struck and held for each pitch, and the rest."""
    return 2 * n_pitches + 1


def notes_to_voices(notes: Iterable[Note], n_voices: int, n_steps: int, lowest_pitch: int,
                    n_pitches: int) -> tuple[np.ndarray, np.ndarray]:
    """Notes (``track`` = voice) -> (pitch int16 [V, T], onset bool [V, T]).

    Where notes of one voice overlap, the latest struck sounds (a monophonic synth's
    last-note priority; at one onset, the highest). Notes outside the pitch window or
    the steps are cut or dropped.
    """
    pitch = np.full((n_voices, n_steps), REST, dtype=np.int16)
    onset = np.zeros((n_voices, n_steps), dtype=bool)
    for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
        p = n.pitch - lowest_pitch
        if not (0 <= p < n_pitches and 0 <= n.track < n_voices) or n.end <= 0 or n.start >= n_steps:
            continue
        start, end = max(n.start, 0), min(n.end, n_steps)
        pitch[n.track, start:end] = p
        onset[n.track, start:end] = False
        if n.start >= 0:
            onset[n.track, start] = True
    return pitch, onset


def voices_to_notes(pitch: np.ndarray, onset: np.ndarray, lowest_pitch: int) -> list[Note]:
    """(pitch [V, T], onset [V, T]) -> notes sorted by (start, end, pitch, track); ``track`` = voice."""
    pitch, onset = np.asarray(pitch), np.asarray(onset, dtype=bool)
    notes: list[Note] = []
    for v in range(pitch.shape[0]):
        start = None
        for t in range(pitch.shape[1] + 1):
            p = int(pitch[v, t]) if t < pitch.shape[1] else REST
            begins = p != REST and (bool(onset[v, t]) or t == 0 or int(pitch[v, t - 1]) != p)
            if start is not None and (p == REST or begins):
                notes.append(Note(start, t, lowest_pitch + int(pitch[v, start]), v))
                start = None
            if begins:
                start = t
    return sorted(notes)


def held_over(before: np.ndarray, pitch: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """before int16 [V] (each voice's pitch at the last step of the bar before, or :data:`REST`), (pitch, onset)
    [V, T] of the bar -> bool [V]: the voices whose bar starts by holding that note on (a tie over the bar line)."""
    first = np.asarray(pitch)[:, 0]
    return (first == np.asarray(before)) & (first != REST) & ~np.asarray(onset, dtype=bool)[:, 0]


def well_formed(pitch: np.ndarray, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pitch, onset) [..., T] -> the same music with every implied onset written out: a rest never has one, and a note
    that does not continue the step before's pitch is struck."""
    pitch = np.asarray(pitch)
    previous = np.concatenate([np.full_like(pitch[..., :1], REST), pitch[..., :-1]], axis=-1)
    onset = (np.asarray(onset, dtype=bool) | (pitch != previous)) & (pitch != REST)
    return pitch, onset


def to_classes(pitch: np.ndarray, onset: np.ndarray, n_pitches: int) -> np.ndarray:
    """(pitch, onset) [..., T] -> class int64 [..., T]: struck p -> p, held p -> P + p, rest -> 2P."""
    pitch, onset = well_formed(pitch, onset)
    pitch = pitch.astype(np.int64)
    return np.where(pitch == REST, 2 * n_pitches, np.where(onset, pitch, n_pitches + pitch))


def from_classes(classes: np.ndarray, n_pitches: int) -> tuple[np.ndarray, np.ndarray]:
    """class [..., T] -> (pitch int16, onset bool): the inverse of :func:`to_classes`."""
    classes = np.asarray(classes)
    rest = classes >= 2 * n_pitches
    pitch = np.where(rest, REST, classes % n_pitches).astype(np.int16)
    return pitch, (classes < n_pitches) & ~rest


def to_planes(pitch: np.ndarray, onset: np.ndarray, n_pitches: int) -> np.ndarray:
    """(pitch, onset) [..., V, T] -> float32 [..., V, 2, T, P + 1]: plane 0 the pitch sounding
    (row P: the rest), plane 1 the pitch struck. The infilling model's view of known cells."""
    pitch, onset = well_formed(pitch, onset)
    rows = np.where(pitch == REST, n_pitches, pitch).astype(np.int64)
    sounding = np.eye(n_pitches + 1, dtype=np.float32)[rows]  # [..., V, T, P + 1]
    struck = sounding * onset[..., None]
    return np.stack([sounding, struck], axis=-3)


def roll_of(pitch: np.ndarray, n_pitches: int) -> np.ndarray:
    """pitch [..., T] -> bool roll [..., T, P] of the pitches sounding (rests silent)."""
    pitch = np.asarray(pitch)
    roll = np.zeros((*pitch.shape, n_pitches), dtype=bool)
    idx = np.nonzero(pitch != REST)
    roll[(*idx, pitch[idx].astype(np.int64))] = True
    return roll


def from_roll(roll: np.ndarray, onsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """bool roll [..., T, P] (at most one pitch a step) and its onsets (same shape; default: where a
    pitch turns on) -> (pitch, onset) [..., T]. Where two pitches sound, the highest is read."""
    roll = np.asarray(roll, dtype=bool)
    p = roll.shape[-1]
    top = p - 1 - np.argmax(roll[..., ::-1], axis=-1)
    pitch = np.where(roll.any(-1), top, REST).astype(np.int16)
    if onsets is None:
        return well_formed(pitch, np.zeros(pitch.shape, dtype=bool))
    struck = np.take_along_axis(np.asarray(onsets, dtype=bool), np.maximum(pitch, 0)[..., None].astype(np.int64), -1)[..., 0]
    return well_formed(pitch, struck & (pitch != REST))


def meter_features(steps: int, steps_per_beat: int, beats_per_bar: int, fermatas: np.ndarray | None = None,
                   first_step: int = 0) -> np.ndarray:
    """float32 [steps_per_beat + beats_per_bar + 1, steps] of steps ``first_step ..`` of a piece that starts on a
    downbeat: one-hot step in the beat, one-hot beat in the bar, and 1 under a fermata (bool [steps]; None: none)."""
    t = np.arange(first_step, first_step + steps)
    in_beat = np.eye(steps_per_beat, dtype=np.float32)[t % steps_per_beat]
    in_bar = np.eye(beats_per_bar, dtype=np.float32)[(t // steps_per_beat) % beats_per_bar]
    mark = np.zeros((steps, 1), np.float32) if fermatas is None else np.asarray(fermatas, np.float32).reshape(steps, 1)
    return np.concatenate([in_beat, in_bar, mark], axis=1).T.copy()
