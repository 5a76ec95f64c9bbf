"""Performance: a generated phrase becomes timed note events, played in a mood.

This is the one code path from model output to notes, shared by the live daemon
and offline rendering. Times are in *steps* from the start of a bar (floats, since
swing and legato move them off the grid); a note-off may fall after its bar's end
when a note is held across the bar line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livegan.model.contract import ModelInfo
from livegan.mood.presets import Mood
from livegan.music.roll import Note, binarize, flatten_bars, roll_to_notes

NOTE_OFF, PROGRAM, NOTE_ON = 0, 1, 2  # at equal times: releases first, then programs, then new notes
DRUM_HIT_STEPS = 0.5  # drums are hits: released half a step after they strike


@dataclass(frozen=True, order=True)
class NoteEvent:
    """A note-on or note-off in a bar. ``key`` pairs a note-off with its note-on."""

    time: float
    kind: int
    channel: int
    pitch: int
    velocity: int
    key: tuple[int, int] = (0, 0)


def phrase_notes(probs: np.ndarray, info: ModelInfo, threshold: float | None = None,
                 active: np.ndarray | None = None) -> list[Note]:
    """Phrase probabilities [tracks, bars, steps, pitches] -> notes on the phrase's step grid.

    The cells that sound are ``probs > threshold`` (default: the model's), or ``active``
    (bool, the same shape) when the caller binarized already. Each note's velocity field
    carries its onset probability scaled to 0-127 as its *strength*; :func:`perform_bar`
    turns strength into a played velocity.
    """
    flat = flatten_bars(probs)
    if active is None:
        active = binarize(flat, info.threshold if threshold is None else threshold)
    else:
        active = flatten_bars(np.asarray(active, dtype=bool))
    notes = roll_to_notes(active, info.lowest_pitch, [t.is_drum for t in info.tracks])
    return [
        Note(n.start, n.end, n.pitch, n.track, int(round(127 * float(flat[n.track, n.start, n.pitch - info.lowest_pitch]))))
        for n in notes
    ]


def split_bars(notes: list[Note], info: ModelInfo, first_bar: int = 0) -> list[list[Note]]:
    """Notes of a phrase grouped by the bar they start in, from ``first_bar`` to the phrase's end.

    Times are shifted so that each bar's notes count steps from that bar's start.
    """
    spb = info.steps_per_bar
    bars: list[list[Note]] = [[] for _ in range(info.bars - first_bar)]
    for n in notes:
        bar = n.start // spb
        if bar >= first_bar:
            offset = bar * spb
            bars[bar - first_bar].append(Note(n.start - offset, n.end - offset, n.pitch, n.track, n.velocity))
    return bars


def perform_notes(notes: list[Note], info: ModelInfo, mood: Mood, bar_id: int) -> list[tuple[NoteEvent, NoteEvent]]:
    """One bar's notes -> (note-on, note-off) pairs, with the mood's dynamics, swing and legato."""
    channels = info.channels
    pairs = []
    for i, n in enumerate(notes):
        drum = info.tracks[n.track].is_drum
        start = n.start + _swing(n.start, info.steps_per_beat, mood.swing)
        length = DRUM_HIT_STEPS if drum else max(0.5, n.length * mood.legato)
        end = max(start + 0.25, n.start + length)
        key = (bar_id, i)
        ch = channels[n.track]
        pairs.append((NoteEvent(start, NOTE_ON, ch, n.pitch, _velocity(n, info, mood), key),
                      NoteEvent(end, NOTE_OFF, ch, n.pitch, 0, key)))
    return pairs


def tied_notes(notes: list[Note], held: set[tuple[int, int]], info: ModelInfo) -> frozenset[int]:
    """Indices of the bar's ``notes`` that hold on a note of the bar before: they start at the bar line, on a
    melodic track, with the (track, MIDI pitch) in ``held`` (what the bar before was holding at its end and
    the model holds on, rather than striking again)."""
    return frozenset(i for i, n in enumerate(notes)
                     if n.start == 0 and (n.track, n.pitch) in held and not info.tracks[n.track].is_drum)


def perform_bar(notes: list[Note], info: ModelInfo, mood: Mood, bar_id: int) -> list[NoteEvent]:
    """One bar's notes -> note-on/note-off events sorted by time (releases first at equal times)."""
    return sorted(e for pair in perform_notes(notes, info, mood, bar_id) for e in pair)


def threshold_for(info: ModelInfo, mood: Mood, threshold: float | None = None) -> float:
    """The note threshold a mood asks for: density +1 lowers it (more notes), -1 raises it."""
    base = info.threshold if threshold is None else threshold
    return min(0.95, max(0.05, base - 0.3 * mood.density))


def _swing(step: int, steps_per_beat: int, swing: float) -> float:
    """Delay of a step: the off-beat 16ths (odd steps within a beat of 4) move late by ``swing`` steps."""
    if swing == 0.0 or steps_per_beat % 2:
        return 0.0
    per_16th = steps_per_beat // 4 or 1
    return swing * per_16th if (step // per_16th) % 2 else 0.0


def _velocity(note: Note, info: ModelInfo, mood: Mood) -> int:
    """Base velocity, moved by the note's strength (model confidence) and the metric accent."""
    strength = (note.velocity / 127.0 - info.threshold) / max(1e-6, 1.0 - info.threshold)  # 0..1
    spb = info.steps_per_beat
    accent = 1.0 if note.start % info.steps_per_bar == 0 else 0.5 if note.start % spb == 0 else 0.0
    value = mood.velocity + mood.dynamics * (strength - 0.5) + mood.dynamics * 0.5 * accent
    return int(min(127, max(1, round(value))))
