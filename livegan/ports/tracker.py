"""Note bookkeeping on an output port, so that every note-on gets its note-off.

The tracker is the only thing that sends notes. It remembers which (channel, pitch)
pairs sound and which note-on each belongs to, so that:

- a note-off for a note that was already retriggered is dropped (it would cut the
  newer note short), and so is one for a note tied over into the next bar (:meth:`tie`);
- a note-on for a pitch that still sounds sends a note-off first (no doubled voice);
- :meth:`release_all` ends everything: explicit note-offs, sustain off (CC 64 = 0)
  and All Notes Off (CC 123) on every channel used. It is called on stop, on
  signals and on every error path.

One lock guards it: the clock thread sends the music, and the input thread sends a panic's
releases at once and a player's notes passed through (``--thru``); they never interleave inside a
send. Uncontended, the lock costs well under a microsecond a message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import lru_cache, wraps

import mido

SUSTAIN, ALL_NOTES_OFF = 64, 123
_REALTIME = {kind: mido.Message(kind) for kind in ("clock", "start", "stop")}


@lru_cache(maxsize=8192)
def _message(kind: str, channel: int, note: int, velocity: int) -> mido.Message:
    """Built and checked once: the clock thread then sends without mido's per-message validation."""
    return mido.Message(kind, channel=channel, note=note, velocity=velocity)


def _locked(method: Callable) -> Callable:
    @wraps(method)
    def guarded(self: NoteTracker, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return guarded


class NoteTracker:
    """Sends notes to ``port`` and remembers what sounds."""

    def __init__(self, port: mido.ports.BaseOutput) -> None:
        self.port = port
        self.sounding: dict[tuple[int, int], object] = {}
        self.channels: set[int] = set()
        self._dirty = False  # anything sent since the last release?
        self._lock = threading.RLock()

    @_locked
    def thru(self, msg: mido.Message) -> None:
        """Pass a player's note on as it came (``--thru``); it is released with LiveGAN's own on every stop."""
        if msg.type == "note_on" and msg.velocity > 0:
            self.note_on(msg.channel, msg.note, msg.velocity, "thru")
        elif msg.type in ("note_on", "note_off"):
            self.note_off(msg.channel, msg.note, "thru")

    @_locked
    def note_on(self, channel: int, pitch: int, velocity: int, key: object) -> None:
        if (channel, pitch) in self.sounding:
            self.port.send(_message("note_off", channel, pitch, 64))
        self.port.send(_message("note_on", channel, pitch, velocity))
        self.sounding[(channel, pitch)] = key
        self.channels.add(channel)
        self._dirty = True

    def rehearse(self, channel: int, pitch: int, velocity: int | None) -> None:
        """Go through a note-on (``velocity``) or note-off (None) without sending it: its message, encoded, and
        its entry in what sounds are then hot for the send. Takes no lock (it only reads)."""
        message = _message("note_on", channel, pitch, velocity) if velocity is not None else _message("note_off", channel, pitch, 64)
        message.bytes()
        self.sounding.get((channel, pitch))

    @_locked
    def note_off(self, channel: int, pitch: int, key: object) -> None:
        if self.sounding.get((channel, pitch)) == key:
            self.port.send(_message("note_off", channel, pitch, 64))
            del self.sounding[(channel, pitch)]

    @_locked
    def tie(self, channel: int, pitch: int, was: object, key: object) -> bool:
        """Let the note sounding at (channel, pitch) as note ``was`` go on as note ``key`` (a tie over a bar line):
        ``was``'s note-off is then stale and dropped, and ``key``'s ends it. False, and nothing changes, if that
        note no longer sounds."""
        if self.sounding.get((channel, pitch)) != was:
            return False
        self.sounding[(channel, pitch)] = key
        return True

    @_locked
    def release_channel(self, channel: int) -> None:
        """Note-off for every note sounding on ``channel`` (a track was muted)."""
        for ch, pitch in [k for k in self.sounding if k[0] == channel]:
            self.port.send(mido.Message("note_off", channel=ch, note=pitch))
            del self.sounding[(ch, pitch)]

    @_locked
    def program(self, channel: int, program: int) -> None:
        self.port.send(mido.Message("program_change", channel=channel, program=program))
        self.channels.add(channel)
        self._dirty = True

    @_locked
    def realtime(self, kind: str) -> None:
        """Send a system real-time message: ``"clock"``, ``"start"`` or ``"stop"`` (no note, no channel)."""
        self.port.send(_REALTIME[kind])

    @_locked
    def clear(self, channels: Iterable[int]) -> None:
        """Sustain off and All Notes Off on ``channels`` now, whatever sounds (a killed earlier run's notes)."""
        self.channels.update(channels)
        self.release_all(force=True)

    @_locked
    def release_all(self, force: bool = False) -> None:
        """Note-off for every sounding note, then sustain off and All Notes Off on every channel used.

        Does nothing if nothing was sent since the last release, unless ``force``.
        """
        if not (self._dirty or force):
            return
        self._dirty = False
        for channel, pitch in sorted(self.sounding):
            self.port.send(mido.Message("note_off", channel=channel, note=pitch))
        self.sounding.clear()
        for channel in sorted(self.channels):
            self.port.send(mido.Message("control_change", channel=channel, control=SUSTAIN, value=0))
            self.port.send(mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0))
