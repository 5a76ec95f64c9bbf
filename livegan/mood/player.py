"""What a player plays on LiveGAN's input: the keys held, the chord they make, the phrase just played.

Like :mod:`livegan.mood.controls`, the input thread only *records* (:meth:`PlayerState.record`: a few
assignments under a lock, with the message's arrival time); what the generation asks for is a pure
function of the record and the time it asks (:meth:`PlayerState.chord_at`, :meth:`PlayerState.phrase_at`).

Held keys become a chord the way players expect of an arranger keyboard
(``../shared/reference/play-along.md``):

- a set of keys counts once no key went down for ``settle`` seconds (40 ms), so a chord struck a
  little unevenly is one change, not three;
- only a set reached by a key going down, of two keys or more, replaces the chord: a single key is a
  passing touch, and releasing keys one by one never changes the chord (it latches);
- with every key up for ``release`` seconds (0.3 s) the chord is let go: the model chooses again.

A phrase (``--follow melody``, ``--respond``) is the notes played since the last silence: it is
complete once every key has been up for ``silence`` seconds (a bar, set by the session from the tempo).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import mido

SETTLE_SECONDS = 0.04
RELEASE_SECONDS = 0.3


@dataclass(frozen=True)
class Held:
    """The chord the player holds: MIDI pitches (lowest first) and when it was struck (seconds)."""

    pitches: tuple[int, ...]
    since: float

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple(sorted({p % 12 for p in self.pitches}))

    @property
    def bass(self) -> int:
        return self.pitches[0] % 12


@dataclass(frozen=True)
class Played:
    """A note the player played: MIDI pitch, velocity, and its start and end in seconds (end None: still held)."""

    pitch: int
    velocity: int
    start: float
    end: float | None


class PlayerState:
    """The record of the notes played on the input (any channel, or ``channel`` 0-15)."""

    def __init__(self, channel: int | None = None, settle: float = SETTLE_SECONDS, release: float = RELEASE_SECONDS) -> None:
        self.channel = channel
        self.settle = settle
        self.release = release
        self._lock = threading.Lock()
        self._down: dict[int, tuple[int, float]] = {}  # pitch -> (velocity, start)
        self._events: list[tuple[float, bool, frozenset[int]]] = []  # (time, by a key going down, keys held after)
        self._notes: list[Played] = []  # finished notes, oldest first

    def record(self, msg: mido.Message, at: float) -> bool:
        """Record a note message that arrived at ``at`` seconds; False for anything else (left to the controls)."""
        if msg.type not in ("note_on", "note_off") or (self.channel is not None and msg.channel != self.channel):
            return False
        with self._lock:
            if msg.type == "note_on" and msg.velocity > 0:
                self._down[msg.note] = (msg.velocity, at)
                down = True
            else:
                if msg.note in self._down:
                    velocity, start = self._down.pop(msg.note)
                    self._notes.append(Played(msg.note, velocity, start, at))
                down = False
            self._events.append((at, down, frozenset(self._down)))
            if len(self._notes) > 4096:
                del self._notes[:2048]
            if len(self._events) > 512:  # older changes were decided long ago: the last chord is all that matters
                del self._events[:256]
        return True

    def panic(self) -> None:
        """Forget every key held (a panic on the input: what is held is no longer meant)."""
        with self._lock:
            self._down.clear()
            self._events.append((self._events[-1][0] if self._events else 0.0, False, frozenset()))

    def chord_at(self, now: float) -> Held | None:
        """The chord in force at ``now``: the last settled set of 2+ keys reached by a key going down, until every
        key has been up for ``release`` seconds."""
        with self._lock:
            events = list(self._events)
        downs = [at for at, down, _ in events if down]
        decisions: list[tuple[float, Held | None]] = []
        for k, at in enumerate(downs):
            settled = at + self.settle
            if settled > now or (k + 1 < len(downs) and downs[k + 1] <= settled):
                continue  # not settled yet, or another key went down first: the same gesture
            keys = next(held for t, _, held in reversed(events) if t <= settled)
            if len(keys) >= 2:
                decisions.append((settled, Held(tuple(sorted(keys)), at)))
        later_down = math.inf  # the earliest key going down after the event, in order (keys changed within one
        for at, down, keys in reversed(events):  # driver period share a time stamp): one pass, not one per release
            let_go = at + self.release
            if not keys and let_go <= now and later_down > let_go:
                decisions.append((let_go, None))
            if down:
                later_down = min(later_down, at)
        decisions.sort(key=lambda d: d[0])
        return decisions[-1][1] if decisions else None

    def last_release(self) -> float | None:
        """When the last note played ended (seconds), or None before any."""
        with self._lock:
            return self._notes[-1].end if self._notes else None

    def held(self) -> tuple[int, ...]:
        """The pitches held right now."""
        with self._lock:
            return tuple(sorted(self._down))

    def phrase_at(self, now: float, silence: float) -> tuple[Played, ...] | None:
        """The phrase that ended: the notes since the silence before them, once every key has been up for
        ``silence`` seconds at ``now``; None while a phrase is being played or nothing was played."""
        with self._lock:
            if self._down or not self._notes:
                return None
            notes = list(self._notes)
        if now - max(n.end for n in notes) < silence:
            return None
        phrase = [notes[-1]]
        for note in reversed(notes[:-1]):
            if phrase[0].start - note.end >= silence:
                break
            phrase.insert(0, note)
        return tuple(sorted(phrase, key=lambda n: (n.start, n.pitch)))

    def forget_before(self, at: float) -> None:
        """Drop the finished notes that ended before ``at`` (a phrase answered is not answered again)."""
        with self._lock:
            self._notes = [n for n in self._notes if n.end is None or n.end >= at]
