"""A folder of MIDI files as a source (EMOPIA, or your own), read with mido.

Instruments map to the LPD-5 tracks by General MIDI family, as LPD-5 merges them:
channel 10 -> Drums; programs 0-23 (pianos, chromatic percussion, organs) -> Piano;
24-31 -> Guitar; 32-39 -> Bass; everything else -> Strings. Bar 1 starts at tick 0
and the bar length is 4 quarter notes; files whose first time signature is not
four quarter notes a bar are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import mido

from livegan.errors import UserError
from livegan.model.contract import DRUM_CHANNEL
from livegan.music.roll import Note
from livegan.training.data.song import LPD5_TRACKS, Song, song_from_notes, to_step

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")


def family_track(program: int, channel: int) -> int:
    """GM program (0-127) and zero-based channel -> index in :data:`LPD5_TRACKS`."""
    if channel == DRUM_CHANNEL:
        return 0
    if program < 24:
        return 1
    if program < 32:
        return 2
    if program < 40:
        return 3
    return 4


def midi_paths(folder: Path) -> list[Path]:
    """Every MIDI file under ``folder``, recursively, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def read_midi_folder(folder: Path, steps_per_beat: int, limit: int | None = None) -> Iterator[Song]:
    """Songs of the MIDI files under ``folder``; unreadable or non-4/4 files are skipped with a warning."""
    for path in midi_paths(folder)[:limit]:
        try:
            song = read_midi_file(path, steps_per_beat)
        except UserError as exc:
            log.warning("%s", exc)
            continue
        if song is not None:
            yield song


def read_midi_file(path: Path, steps_per_beat: int) -> Song | None:
    """One MIDI file -> a :class:`Song` (unlabelled), or ``None`` when its bars are not four quarters long."""
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"'{path}' is not a readable MIDI file ({type(exc).__name__}: {exc}); skipped") from None
    meta = [m for m in mido.merge_tracks(midi.tracks) if m.is_meta]
    signature = next((m for m in meta if m.type == "time_signature"), None)
    if signature is not None and signature.numerator * 4 / signature.denominator != 4:
        log.warning("'%s' is in %d/%d, not four quarters a bar; skipped", path, signature.numerator, signature.denominator)
        return None
    tempo = next((m.tempo for m in meta if m.type == "set_tempo"), 500000)
    notes = list(_notes(midi, steps_per_beat))
    return song_from_notes(path.stem, notes, len(LPD5_TRACKS), mido.tempo2bpm(tempo))


def _notes(midi: mido.MidiFile, steps_per_beat: int) -> Iterator[Note]:
    """Notes of all tracks on the grid, each assigned to its LPD-5 track by channel and program."""
    tpb = midi.ticks_per_beat
    programs = [0] * 16
    sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) -> (start tick, track)
    tick = 0
    for message in mido.merge_tracks(midi.tracks):
        tick += message.time
        if message.type == "program_change":
            programs[message.channel] = message.program
        elif message.type == "note_on" and message.velocity > 0:
            key = (message.channel, message.note)
            if key in sounding:
                yield _note(sounding.pop(key), tick, message.note, tpb, steps_per_beat)
            sounding[key] = (tick, family_track(programs[message.channel], message.channel))
        elif message.type in ("note_off", "note_on") and (message.channel, message.note) in sounding:
            yield _note(sounding.pop((message.channel, message.note)), tick, message.note, tpb, steps_per_beat)


def _note(start: tuple[int, int], end_tick: int, pitch: int, tpb: int, steps_per_beat: int) -> Note:
    tick, track = start
    begin = to_step(tick / tpb, steps_per_beat)
    end = begin + 1 if LPD5_TRACKS[track].is_drum else max(to_step(end_tick / tpb, steps_per_beat), begin + 1)
    return Note(begin, end, pitch, track)
