"""The sequencer: plays bars on one clock, at absolute deadlines, and never waits for generation.

Bar k starts at exactly ``t0 + k * bar_seconds``; each event is due at its bar's
start plus its offset in steps. Events of all bars share one deadline-ordered heap,
so a note held across a bar line ends on time even if the next bar is regenerated.
Fetching bar k is itself a heap entry, due a moment before bar k starts.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from livegan.clock import Clock
from livegan.composer import Bar
from livegan.contract import ModelInfo
from livegan.mood import Mood
from livegan.perform import NOTE_OFF, NOTE_ON, PROGRAM, NoteEvent
from livegan.tracker import NoteTracker

log = logging.getLogger(__name__)

FETCH, END = -2, -1  # heap entries that are not notes
FETCH_LEAD = 0.002  # seconds before a bar starts that it is taken from the composer


class BarSource(Protocol):
    def take(self, index: int) -> Bar | None: ...


@dataclass
class Lateness:
    """How late events were sent (seconds after their deadline), over a sliding window."""

    window: deque[float] = field(default_factory=lambda: deque(maxlen=8192))
    count: int = 0
    worst: float = 0.0

    def record(self, late: float) -> None:
        self.window.append(late)
        self.count += 1
        self.worst = max(self.worst, late)

    def summary(self) -> dict[str, float]:
        """Median, p99 and max lateness in milliseconds (max over the whole run)."""
        if not self.window:
            return {"events": 0, "median_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        values = np.fromiter(self.window, dtype=float)
        return {"events": self.count, "median_ms": float(np.median(values) * 1e3),
                "p99_ms": float(np.percentile(values, 99) * 1e3), "max_ms": self.worst * 1e3}


@dataclass
class BarStarted:
    """What the sequencer reports at each bar start (for the status line and logs)."""

    number: int  # 1-based, as musicians count
    mood: Mood | None
    gen_seconds: float | None
    lateness: Lateness


class Sequencer:
    """Plays bars taken from ``source`` through ``tracker`` at ``bpm``, on ``clock``."""

    def __init__(self, source: BarSource, tracker: NoteTracker, clock: Clock, info: ModelInfo, bpm: float,
                 on_bar: Callable[[BarStarted], None] | None = None) -> None:
        if not 20.0 <= bpm <= 400.0:
            raise ValueError(f"bpm must be in [20, 400], got {bpm}")
        self.source = source
        self.tracker = tracker
        self.clock = clock
        self.info = info
        self.step_seconds = 60.0 / bpm / info.steps_per_beat
        self.bar_seconds = self.step_seconds * info.steps_per_bar
        self.on_bar = on_bar
        self.lateness = Lateness()
        self.bar_starts: list[float] = []  # deadline of each bar played, for tests and soak checks
        self.mood: Mood | None = None
        self.programs: dict[int, int] = {}
        self._heap: list[tuple[float, int, int, object]] = []
        self._seq = itertools.count()

    def play(self, t0: float, bars: int | None = None) -> None:
        """Play from bar 0 at ``t0`` until ``bars`` bars have played or the clock's stop is set.

        Every note still sounding is released when it returns or raises.
        """
        self._push(t0 - FETCH_LEAD, FETCH, 0)
        try:
            while self._heap:
                deadline, kind, _, item = heapq.heappop(self._heap)
                if not self.clock.sleep_until(deadline):
                    break
                if kind == END:
                    break
                if kind == FETCH:
                    self._fetch(int(item), t0, bars)
                else:
                    self._send(kind, item, deadline)
        finally:
            self.tracker.release_all()

    def _fetch(self, index: int, t0: float, bars: int | None) -> None:
        start = t0 + index * self.bar_seconds  # absolute: no error accumulates over bars
        if bars is not None and index >= bars:
            self._push(start, END, None)
            return
        bar = self.source.take(index)
        self.bar_starts.append(start)
        if bar is None:
            log.warning("bar %d: generation is late, the bar stays silent (try --lookahead 3 or a smaller model)", index + 1)
        else:
            self._begin(bar, start)
        self._push(start + self.bar_seconds - FETCH_LEAD, FETCH, index + 1)
        if self.on_bar is not None:
            self.on_bar(BarStarted(index + 1, bar.mood if bar else self.mood, bar.gen_seconds if bar else None, self.lateness))

    def _begin(self, bar: Bar, start: float) -> None:
        if bar.mood != self.mood:
            log.info("bar %d: mood %s", bar.index + 1, bar.mood.describe())
            self.mood = bar.mood
            for channel, program in self._programs(bar.mood).items():
                if self.programs.get(channel) != program:
                    self.programs[channel] = program
                    self._push(start, PROGRAM, (channel, program))
        for event in bar.events:
            self._push(start + event.time * self.step_seconds, event.kind, event)

    def _programs(self, mood: Mood) -> dict[int, int]:
        """GM program per melodic channel: the model's instrument unless the mood names another."""
        return {ch: mood.programs.get(t.name, t.program)
                for t, ch in zip(self.info.tracks, self.info.channels) if not t.is_drum}

    def _send(self, kind: int, item: object, deadline: float) -> None:
        if kind == PROGRAM:
            self.tracker.program(*item)
        elif kind == NOTE_ON:
            e: NoteEvent = item
            self.tracker.note_on(e.channel, e.pitch, e.velocity, e.key)
        elif kind == NOTE_OFF:
            e = item
            self.tracker.note_off(e.channel, e.pitch, e.key)
        self.lateness.record(self.clock.now() - deadline)

    def _push(self, deadline: float, kind: int, item: object) -> None:
        heapq.heappush(self._heap, (deadline, kind, next(self._seq), item))
