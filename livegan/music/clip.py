"""A user's MIDI clip on a model's grid: what ``livegan render --continue CLIP.mid`` starts from.

The clip's notes are quantised to the model's steps (a bar is ``beats_per_bar``
quarter notes from the file's first tick) and laid out on the model's tracks:

- drums (MIDI channel 10) go to the model's drum track, or are dropped if it has none;
- melodic parts (one per MIDI track and channel that holds notes) map to the model's
  melodic tracks **in file order** when there are exactly as many;
- otherwise (a piano clip for a four-voice model, say) the notes sounding at each
  step are dealt out by pitch, highest to the first melodic track, and so on down, so
  a chord becomes voices; where a chord has more notes than the model has voices,
  the top ones and the lowest (the bass) are kept;
- pitches outside the model's window move by octaves into it.

Repeated notes keep a one-step gap, as the training data does, so they stay two notes.
Pure numpy and mido: no torch, no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from livegan.errors import UserError
from livegan.model.contract import DRUM_CHANNEL, ModelInfo

MAX_CLIP_BARS = 64


@dataclass(frozen=True)
class Clip:
    """A clip on the grid: ``roll`` bool [tracks, bars * steps_per_bar, pitches], step 0 on a downbeat."""

    path: Path
    roll: np.ndarray
    bars: int
    notes: int

    def phrase(self, info: ModelInfo) -> np.ndarray:
        """The clip's first phrase as bool [tracks, bars, steps_per_bar, pitches], cut or padded with silence."""
        steps = info.bars * info.steps_per_bar
        out = np.zeros((len(info.tracks), steps, info.n_pitches), dtype=bool)
        length = min(steps, self.roll.shape[1])
        out[:, :length] = self.roll[:, :length]
        return out.reshape(len(info.tracks), info.bars, info.steps_per_bar, info.n_pitches)


def read_clip(path: str | Path, info: ModelInfo) -> Clip:
    """Read ``path`` onto ``info``'s grid; a missing, unreadable or empty file is a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"clip '{path}' does not exist: pass a MIDI file (.mid) to --continue")
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"clip '{path}' is not a readable MIDI file ({type(exc).__name__}: {exc})") from None
    if midi.type == 2:
        raise UserError(f"clip '{path}' is a type-2 MIDI file (independent patterns); export it as type 0 or 1")
    parts = _parts(midi, info.steps_per_beat)
    if not any(parts.values()):
        raise UserError(f"clip '{path}' holds no notes: record or draw a few bars, then export them as MIDI")
    steps = max(end for notes in parts.values() for _, end, _ in notes)
    bar = info.steps_per_bar
    bars = min(MAX_CLIP_BARS, -(-steps // bar))
    roll = _lay_out(parts, info, bars * bar)
    return Clip(path, roll, bars, sum(len(v) for v in parts.values()))


def _parts(midi: mido.MidiFile, steps_per_beat: int) -> dict[tuple[int, int], list[tuple[int, int, int]]]:
    """(track, channel) -> notes (start step, end step, pitch), in file order of the parts."""
    tpb = midi.ticks_per_beat
    parts: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for number, track in enumerate(midi.tracks):
        tick = 0
        sounding: dict[tuple[int, int], int] = {}
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off"):
                continue
            key = (msg.channel, msg.note)
            if key in sounding:  # a note-off, or a new note-on of a sounding note, ends it
                start = sounding.pop(key)
                _add(parts, (number, msg.channel), start, tick, msg.note, tpb, steps_per_beat)
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[key] = tick
        for (channel, pitch), start in sounding.items():  # never released: one beat long
            _add(parts, (number, channel), start, start + tpb, pitch, tpb, steps_per_beat)
    return parts


def _add(parts: dict, key: tuple[int, int], start_tick: int, end_tick: int, pitch: int, tpb: int,
         steps_per_beat: int) -> None:
    start = round(start_tick * steps_per_beat / tpb)
    end = max(start + 1, round(end_tick * steps_per_beat / tpb))
    parts.setdefault(key, []).append((start, end, pitch))


def _lay_out(parts: dict[tuple[int, int], list[tuple[int, int, int]]], info: ModelInfo, steps: int) -> np.ndarray:
    tracks, n_pitches = len(info.tracks), info.n_pitches
    roll = np.zeros((tracks, steps, n_pitches), dtype=bool)
    drum = next((i for i, t in enumerate(info.tracks) if t.is_drum), None)
    melodic = [i for i, t in enumerate(info.tracks) if not t.is_drum]
    drum_parts = [k for k in parts if k[1] == DRUM_CHANNEL]
    melodic_parts = [k for k in parts if k[1] != DRUM_CHANNEL and parts[k]]
    if drum is not None:
        for key in drum_parts:
            for start, _, pitch in parts[key]:
                if start < steps:
                    roll[drum, start, _fold(pitch, info)] = True
    if not melodic:
        return roll
    if len(melodic_parts) == len(melodic):
        for track, key in zip(melodic, melodic_parts):
            _draw(roll[track], parts[key], info, steps)
        return roll
    pooled = np.zeros((steps, n_pitches), dtype=bool)
    onsets = np.zeros((steps, n_pitches), dtype=bool)
    for key in melodic_parts:
        for start, end, pitch in parts[key]:
            if start < steps:
                p = _fold(pitch, info)
                pooled[start:min(end, steps), p] = True
                onsets[start, p] = True
    voices = len(melodic)
    for step in range(steps):
        sounding = np.flatnonzero(pooled[step])[::-1]  # highest first
        if len(sounding) > voices:  # more notes than voices: keep the top ones and the bass
            sounding = np.concatenate([sounding[:voices - 1], sounding[-1:]])
        for rank, p in enumerate(sounding):
            roll[melodic[rank], step, p] = True
    _separate_repeats(roll, onsets, melodic)
    return roll


def _draw(lane: np.ndarray, notes: list[tuple[int, int, int]], info: ModelInfo, steps: int) -> None:
    for start, end, pitch in sorted(notes):
        if start >= steps:
            continue
        p = _fold(pitch, info)
        if start > 0 and lane[start - 1, p]:
            lane[start - 1, p] = False  # a repeated note keeps its onset: a one-step gap before it
        lane[start:min(end, steps), p] = True


def _separate_repeats(roll: np.ndarray, onsets: np.ndarray, melodic: list[int]) -> None:
    for track in melodic:
        lane = roll[track]
        held_into = np.zeros_like(lane)
        held_into[1:] = lane[:-1] & lane[1:] & onsets[1:]
        lane[:-1][held_into[1:]] = False


def _fold(pitch: int, info: ModelInfo) -> int:
    """A MIDI pitch -> its index in the model's window, moved by octaves to fit."""
    p = pitch - info.lowest_pitch
    while p < 0:
        p += 12
    while p >= info.n_pitches:
        p -= 12
    return max(0, min(info.n_pitches - 1, p))


def chords_of_clip(path: str | Path, info: ModelInfo) -> list:
    """A MIDI file of chords -> one :class:`~livegan.music.chords.Chord` per bar: the pitches sounding longest in
    the bar (each sounding at least a beat, or the bar's only notes); None for a bar with no notes."""
    from livegan.music.chords import chord_of

    path = Path(path)
    if not path.is_file():
        raise UserError(f"chord file '{path}' does not exist: pass a MIDI file (.mid), or chord symbols, to --chords")
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"chord file '{path}' is not a readable MIDI file ({type(exc).__name__}: {exc})") from None
    notes = [n for key, part in _parts(midi, info.steps_per_beat).items() if key[1] != DRUM_CHANNEL for n in part]
    if not notes:
        raise UserError(f"chord file '{path}' holds no notes: hold one chord a bar, then export it as MIDI")
    bar = info.steps_per_bar
    chords = []
    for b in range(min(MAX_CLIP_BARS, -(-max(end for _, end, _ in notes) // bar))):
        lengths: dict[int, int] = {}
        for start, end, pitch in notes:
            overlap = min(end, (b + 1) * bar) - max(start, b * bar)
            if overlap > 0:
                lengths[pitch] = lengths.get(pitch, 0) + overlap
        held = [p for p, n in lengths.items() if n >= info.steps_per_beat] or list(lengths)
        chords.append(chord_of(held))
    return chords


def melody_of_clip(path: str | Path, info: ModelInfo) -> list[tuple[int, int, int]]:
    """A MIDI file's top line, (start step, end step, MIDI pitch) from its first bar: at each step the highest
    pitch sounding (a melody file is that melody; a piano clip gives its top voice)."""
    from livegan.music.roll import Note
    from livegan.music.voices import notes_to_voices, voices_to_notes

    path = Path(path)
    if not path.is_file():
        raise UserError(f"clip '{path}' does not exist: pass a MIDI file (.mid) of the melody to --clip")
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"clip '{path}' is not a readable MIDI file ({type(exc).__name__}: {exc})") from None
    notes = [Note(a, b, p, 0) for key, part in _parts(midi, info.steps_per_beat).items() if key[1] != DRUM_CHANNEL
             for a, b, p in part]
    if not notes:
        raise UserError(f"clip '{path}' holds no notes: record or draw a melody, then export it as MIDI")
    steps = min(MAX_CLIP_BARS * info.steps_per_bar, max(n.end for n in notes))
    top = sorted(notes, key=lambda n: (n.start, -n.pitch))
    kept = [n for i, n in enumerate(top) if i == 0 or n.start != top[i - 1].start]  # the highest of notes struck together
    pitch, onset = notes_to_voices(kept, 1, steps, 0, 128)
    return [(n.start, n.end, n.pitch) for n in voices_to_notes(pitch, onset, 0)]
