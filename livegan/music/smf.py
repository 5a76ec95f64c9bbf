"""Standard MIDI files of what LiveGAN sent: rendered whole, or recorded as a take grows.

Both ``livegan render`` and ``livegan run --record`` write the same layout, a type-1
SMF at :data:`PPQ` ticks per quarter note:

- track 0, the conductor: a title, the time signature, the tempo, mood markers;
- then one track per model track, named after it, holding every message of its
  MIDI channel (program changes, notes, controllers) in the order they were sent.

The encoder keeps each track as bytes that only grow, so a complete file is a
header plus the tracks plus an end-of-track each: cheap to produce at any moment.
:class:`~livegan.ports.taps.Recorder` uses that to keep the file on disk complete while a
take goes on: every flush writes the whole file beside it and renames it over the old
one, so a process killed at any time leaves the take up to the last flush, and a clean
stop (Ctrl-C) leaves all of it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mido

from livegan.model.contract import ModelInfo

log = logging.getLogger(__name__)

PPQ = 480
"""Ticks per quarter note of the files written here."""

ONSET_TYPES = frozenset({"note_on", "program_change", "start"})
"""The first message of one of these types marks time zero of a recording (bar 1's start)."""


@dataclass(frozen=True)
class Layout:
    """What a file holds besides the messages: its tracks, tempo and meter.

    tracks : (name, zero-based MIDI channel) per track, in file order after the conductor.
    bpm : the tempo written in the file; seconds become ticks at this tempo.
    """

    tracks: tuple[tuple[str, int], ...]
    bpm: float
    beats_per_bar: int = 4
    ppq: int = PPQ
    title: str = "LiveGAN"

    @classmethod
    def for_model(cls, info: ModelInfo, bpm: float, title: str = "LiveGAN") -> Layout:
        """One track per model track, on the channel the daemon plays it on (drums on 10)."""
        return cls(tuple((t.name, ch) for t, ch in zip(info.tracks, info.channels)), bpm, info.beats_per_bar,
                   title=title)

    def ticks(self, seconds: float) -> int:
        """Seconds from the start -> ticks at this layout's tempo (rounded to the nearest tick)."""
        return int(round(seconds * self.bpm * self.ppq / 60.0))

    @property
    def bar_ticks(self) -> int:
        return self.beats_per_bar * self.ppq


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits per byte, most significant first."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


class _Track:
    """One track's events as delta-timed bytes, appended in time order."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.tick = 0

    def add(self, tick: int, raw: Sequence[int]) -> None:
        tick = max(tick, self.tick)  # never backwards: a late stamp lands with the previous event
        self.data += _vlq(tick - self.tick)
        self.data += bytes(raw)
        self.tick = tick

    def chunk(self, end: int) -> bytes:
        body = bytes(self.data) + _vlq(max(end, self.tick) - self.tick) + b"\xff\x2f\x00"
        return b"MTrk" + len(body).to_bytes(4, "big") + body


class SmfBuilder:
    """A type-1 SMF built message by message; :meth:`to_bytes` gives a complete file at any time."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.skipped = 0  # messages an SMF cannot hold (MIDI clock, Start, Stop...)
        self._tracks = [_Track() for _ in range(1 + len(layout.tracks))]
        self._by_channel = {channel: i + 1 for i, (_, channel) in enumerate(layout.tracks)}
        self._names = [layout.title] + [name for name, _ in layout.tracks]
        conductor = self._tracks[0]
        conductor.add(0, mido.MetaMessage("track_name", name=layout.title).bytes())
        conductor.add(0, mido.MetaMessage("time_signature", numerator=layout.beats_per_bar, denominator=4).bytes())
        conductor.add(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(layout.bpm)).bytes())
        for track, (name, _) in zip(self._tracks[1:], layout.tracks):
            track.add(0, mido.MetaMessage("track_name", name=name).bytes())

    def add(self, tick: int, msg: mido.Message) -> None:
        """Add a channel message at ``tick`` (ticks must not decrease within a channel)."""
        channel = getattr(msg, "channel", None)
        if channel is None:
            self.skipped += 1
            return
        if channel not in self._by_channel:  # not a model track's channel: give it a track of its own
            self._by_channel[channel] = len(self._tracks)
            self._tracks.append(_Track())
            self._tracks[-1].add(0, mido.MetaMessage("track_name", name=f"Channel {channel + 1}").bytes())
            self._names.append(f"Channel {channel + 1}")
        self._tracks[self._by_channel[channel]].add(tick, msg.bytes())

    def marker(self, tick: int, text: str) -> None:
        """A marker in the conductor track (DAWs show it on the timeline)."""
        self._tracks[0].add(tick, mido.MetaMessage("marker", text=text).bytes())

    @property
    def end(self) -> int:
        """The tick of the last event in any track."""
        return max(t.tick for t in self._tracks)

    def to_bytes(self, end: int = 0) -> bytes:
        """The complete file; every track ends at ``max(end, last event)`` ticks."""
        end = max(end, self.end)
        header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(self._tracks).to_bytes(2, "big")
        return header + self.layout.ppq.to_bytes(2, "big") + b"".join(t.chunk(end) for t in self._tracks)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it over ``path``: readers see the old or the new file, whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def smf_bytes(messages: Iterable[tuple[float, mido.Message]], layout: Layout, seconds: float = 0.0,
              markers: Iterable[tuple[float, str]] = ()) -> bytes:
    """Timed messages (seconds from the start, in send order) -> a complete type-1 SMF.

    ``seconds`` is the length of the piece: every track ends there, or at its last event if later.
    """
    builder = SmfBuilder(layout)
    for when, text in markers:
        builder.marker(layout.ticks(when), text)
    for when, msg in messages:
        builder.add(layout.ticks(when), msg)
    return builder.to_bytes(layout.ticks(seconds))


@dataclass(frozen=True, order=True)
class PlayedNote:
    """A note as it sounded: note-on to note-off, in seconds from the start."""

    start: float
    end: float
    channel: int
    pitch: int
    velocity: int


def played_notes(messages: Iterable[tuple[float, mido.Message]]) -> list[PlayedNote]:
    """Pair note-ons with their note-offs, as a synth hears them, sorted by start.

    A note-on for a pitch that still sounds ends the sounding one there; a note left
    sounding at the end ends at the last message.
    """
    sounding: dict[tuple[int, int], tuple[float, int]] = {}
    notes: list[PlayedNote] = []
    last = 0.0
    for when, msg in messages:
        last = max(last, when)
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if key in sounding:
            start, velocity = sounding.pop(key)
            notes.append(PlayedNote(start, when, msg.channel, msg.note, velocity))
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[key] = (when, msg.velocity)
    notes.extend(PlayedNote(start, last, ch, pitch, vel) for (ch, pitch), (start, vel) in sounding.items())
    return sorted(notes)
