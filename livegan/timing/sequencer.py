"""The sequencer: plays bars on a transport's timeline, and never waits for generation.

Events are kept in one heap ordered by *position* (steps from the song start), and
each is sent when the transport says its position is due: at exactly
``t0 + position * step`` with the internal transport (so bar k starts at exactly
``t0 + k * bar``, however long it runs), or where the fitted MIDI clock puts it
when following a DAW. A note held across a bar line ends on time even if the
next bar is regenerated, and one the next bar holds on (``Bar.tied``) is not struck
again: it goes on until the next bar's note-off.

Fetching the next bar (or beat, with ``switch="beat"``) from the composer is itself
a heap entry, due a moment before that bar starts, so a mood change lands at the
next bar (or beat) boundary.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from livegan.generation.bar import Bar
from livegan.model.contract import ModelInfo
from livegan.mood.presets import Mood
from livegan.music.perform import NOTE_OFF, NOTE_ON, PROGRAM, NoteEvent
from livegan.ports.tracker import NoteTracker
from livegan.timing.transport import TICKS_PER_BEAT, Transport, Wait

log = logging.getLogger(__name__)

FETCH, END, REALTIME = -3, -2, -1  # heap entries that are not notes sort first at equal positions
FETCH_LEAD = 0.02  # steps before a bar (or beat) starts that it is taken from the composer


class BarSource(Protocol):
    def take(self, index: int) -> Bar | None: ...

    def upcoming(self, index: int) -> Bar | None:
        """Bar ``index`` as it stands now, not taken (None if not made): a note held on into it ends at the bar line."""
        ...

    def relocate(self, index: int) -> None: ...


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


@dataclass(frozen=True)
class Playhead:
    """Where the music is: the composer's index of the bar playing, when it started and how long a step lasts
    (seconds on the transport's clock), so a moment can be placed on the composer's bars."""

    index: int
    started: float
    step_seconds: float

    def position(self, at: float, steps_per_bar: int) -> float:
        """Steps from the composer's bar 0 at time ``at`` (the tempo taken as steady)."""
        return self.index * steps_per_bar + (at - self.started) / self.step_seconds if self.step_seconds > 0 else 0.0


@dataclass
class BarStarted:
    """What the sequencer reports at each bar start (for the status line and logs)."""

    number: int  # 1-based song bar, as musicians count
    mood: Mood | None
    gen_seconds: float | None
    lateness: Lateness
    tempo: str = ""


class Sequencer:
    """Plays bars taken from ``source`` through ``tracker`` on ``transport``.

    switch : "bar" (mood changes land at the next bar) or "beat" (at the next beat).
    send_clock : also send MIDI clock, Start and Stop (when LiveGAN is the master).
    muted : returns the track indices muted now; read at every bar or beat.
    """

    def __init__(self, source: BarSource, *, tracker: NoteTracker, transport: Transport, info: ModelInfo,
                 on_bar: Callable[[BarStarted], None] | None = None, switch: str = "bar", send_clock: bool = False,
                 muted: Callable[[], frozenset[int]] = frozenset) -> None:
        if switch not in ("bar", "beat"):
            raise ValueError(f"switch must be 'bar' or 'beat', got {switch!r}")
        self.source = source
        self.tracker = tracker
        self.transport = transport
        self.info = info
        self.on_bar = on_bar
        self.unit = info.steps_per_bar if switch == "bar" else info.steps_per_beat
        self.send_clock = send_clock
        self.muted = muted
        self.ticks_per_step = TICKS_PER_BEAT / info.steps_per_beat
        self.lateness = Lateness()
        self.bar_starts: deque[float] = deque(maxlen=4096)  # when the last bars played were due (tests, soak)
        self.playhead: Playhead | None = None  # set at each bar start (read by other threads: one assignment)
        self.bars_played = 0
        self.mood: Mood | None = None
        self.programs: dict[int, int] = {}
        self._heap: list[tuple[float, int, int, object]] = []
        self._seq = itertools.count()
        self._offset = 0  # composer index = song bar + offset (changes when the master relocates)
        self._next_index = 0  # the composer index after the last one taken
        self._last_bar = -1  # the song bar last taken
        self._muted_channels: frozenset[int] = frozenset()
        self._clock_base = 0.0

    def play(self, bars: int | None = None) -> None:
        """Play whenever the transport runs, until it quits or ``bars`` song bars have played.

        Every note still sounding is released at each stop, and when this returns or raises.
        """
        try:
            while (start := self.transport.wait_for_start()) is not None:
                outcome = self._segment(start, bars)
                self.playhead = None  # stopped: the music is nowhere until it starts again
                self.tracker.release_all()
                if outcome is not Wait.STOPPED:
                    break
                log.info("transport stopped: all notes released; waiting for Start or Continue")
        finally:
            if self.send_clock:
                self.tracker.realtime("stop")
            self.tracker.release_all()

    def _segment(self, start: float, bars: int | None) -> Wait | None:
        """Play from position ``start`` until the transport stops or quits, or the last bar ends."""
        self._heap.clear()
        self.mood, self.programs = None, {}
        first_bar = int(start // self.info.steps_per_bar)
        beat = int(start % self.info.steps_per_bar // self.info.steps_per_beat)
        log.info("starting at bar %d, beat %d (%s)", first_bar + 1, beat + 1, self.transport.describe())
        # Go on with the bars the composer has ready (resuming inside the bar last played: that bar again).
        index = self._next_index - 1 if first_bar == self._last_bar and self._next_index else self._next_index
        self._offset = index - first_bar
        self.source.relocate(index)
        unit_start = math.floor(start / self.unit) * self.unit
        self._push(max(unit_start - FETCH_LEAD, start - FETCH_LEAD), FETCH, (unit_start, start, bars))
        if self.send_clock:
            self._clock_base = start
            self._push(start, REALTIME, "start")
            self._push(start, REALTIME, 0)
        while self._heap:
            position, kind, _, item = heapq.heappop(self._heap)
            outcome = self.transport.wait_until(position)
            if outcome is not Wait.REACHED:
                return outcome
            if kind == END:
                return None
            if kind == FETCH:
                self._fetch(*item)
            elif kind == REALTIME:
                self._realtime(position, item)
            else:
                self._send(kind, item, position)
        return None

    def _fetch(self, unit_start: float, not_before: float, bars: int | None) -> None:
        """Take the bar holding ``unit_start`` and schedule its notes that start in this unit."""
        spb = self.info.steps_per_bar
        song_bar, in_bar = divmod(unit_start, spb)
        song_bar = int(song_bar)
        bar_start = song_bar * spb
        if bars is not None and song_bar >= bars:
            self._push(bar_start, END, None)
            return
        index = song_bar + self._offset
        bar = self.source.take(index)
        self._next_index, self._last_bar = index + 1, song_bar
        if in_bar == 0:
            started = self.transport.time_of(bar_start)
            self.bar_starts.append(started)
            self.bars_played += 1
            self.playhead = Playhead(index, started, self.transport.time_of(bar_start + 1) - started)
        self._apply_mutes()
        if bar is None:
            if in_bar == 0:
                log.warning("bar %d: generation is late, the bar stays silent (try --lookahead 3 or a smaller model)", song_bar + 1)
        else:
            new_instrument = self._begin(bar, song_bar, bar_start)
            low, high = max(not_before, unit_start) - bar_start, in_bar + self.unit  # this unit, in bar steps
            last = bars is not None and song_bar + 1 >= bars  # the piece ends at this bar's line: nothing holds on
            held_on: set[tuple[int, int]] | None = None  # what the next bar holds on, looked at once
            for i, (on, off) in enumerate(bar.notes):
                if low - 1e-9 <= on.time < high - 1e-9:
                    if not (i in bar.tied and on.time == 0 and on.channel not in new_instrument and self._tie(on, index)):
                        self._push(bar_start + on.time, NOTE_ON, on)
                    end = off.time
                    if end < spb and not last and i < len(bar.score) and bar.score[i].end == spb:  # up to the line
                        held_on = self._held_on(index + 1) if held_on is None else held_on
                        end = spb if (off.channel, off.pitch) in held_on else end
                    self._push(bar_start + end, NOTE_OFF, off)
        next_unit = unit_start + self.unit
        self._push(next_unit - FETCH_LEAD, FETCH, (next_unit, next_unit, bars))
        if in_bar == 0 and self.on_bar is not None:
            self.on_bar(BarStarted(song_bar + 1, bar.mood if bar else self.mood, bar.gen_seconds if bar else None,
                                   self.lateness, self.transport.describe()))

    def _held_on(self, index: int) -> set[tuple[int, int]]:
        """(channel, pitch) of the notes bar ``index``, as made so far, holds on from the bar before (``Bar.tied``).

        A note written up to the bar line that the next bar holds on ends at the line, whatever the mood's legato,
        so the tie can be taken there (:meth:`_tie`); if a remake of the next bar drops the tie, it ends at the line.
        Not where the next bar plays another instrument on the channel: the note is struck again in it.
        """
        upcoming = self.source.upcoming(index)
        if upcoming is None:
            return set()
        new_instrument = self._new_programs(upcoming.mood)
        return {(on.channel, on.pitch) for on, _ in (upcoming.notes[j] for j in upcoming.tied)
                if on.time == 0 and on.channel not in new_instrument}

    def _tie(self, on: NoteEvent, index: int) -> bool:
        """Hold on the note of bar ``index - 1`` that sounds at ``on``'s channel and pitch as ``on`` (a tie over the
        bar line, taken a moment before it): no new note-on, and ``on``'s note-off ends it. False where that note
        no longer sounds (the next bar was not ready when it ended, or a mute released it): ``on`` is then struck."""
        was = self.tracker.sounding.get((on.channel, on.pitch))
        return isinstance(was, tuple) and was[0] == index - 1 and self.tracker.tie(on.channel, on.pitch, was, on.key)

    def _begin(self, bar: Bar, song_bar: int, bar_start: float) -> set[int]:
        """Log a mood change and send the instruments it asks for, at this unit's start: the channels whose
        instrument changes (a note tied over into them is struck again, in the new instrument)."""
        if bar.mood == self.mood:
            return set()
        log.info("bar %d: mood %s", song_bar + 1, bar.mood.describe())
        self.mood = bar.mood
        changed = self._new_programs(bar.mood)
        for channel, program in changed.items():
            self.programs[channel] = program
            self._push(bar_start, PROGRAM, (channel, program))
        return set(changed)

    def _new_programs(self, mood: Mood) -> dict[int, int]:
        """The GM programs ``mood`` asks for on the channels where another instrument plays now."""
        return {ch: program for ch, program in self._programs(mood).items() if self.programs.get(ch) != program}

    def _programs(self, mood: Mood) -> dict[int, int]:
        """GM program per melodic channel: the model's instrument unless the mood names another."""
        return {ch: mood.programs.get(t.name, t.program)
                for t, ch in zip(self.info.tracks, self.info.channels) if not t.is_drum}

    def _apply_mutes(self) -> None:
        channels = frozenset(self.info.channels[i] for i in self.muted() if 0 <= i < len(self.info.channels))
        for channel in channels - self._muted_channels:
            self.tracker.release_channel(channel)
        self._muted_channels = channels

    def _realtime(self, position: float, item: object) -> None:
        """MIDI clock output (``send_clock``): Start, then a tick every 1/24 beat."""
        if item == "start":
            self.tracker.realtime("start")
            return
        self.tracker.realtime("clock")
        tick = int(item) + 1
        self._push(self._clock_base + tick / self.ticks_per_step, REALTIME, tick)

    def _send(self, kind: int, item: object, position: float) -> None:
        if kind == PROGRAM:
            self.tracker.program(*item)
        elif kind == NOTE_ON:
            e: NoteEvent = item
            if e.channel in self._muted_channels:
                return
            self.tracker.note_on(e.channel, e.pitch, e.velocity, e.key)
        elif kind == NOTE_OFF:
            e = item
            self.tracker.note_off(e.channel, e.pitch, e.key)
        self.lateness.record(self.transport.now() - self.transport.time_of(position))

    def rehearse(self, entries: int = 12) -> None:
        """Go through the notes that go next, sending nothing (the clock thread, spinning before their deadline):
        the first ``entries`` of the schedule, their messages and the tracker's entries for them are then hot."""
        for _, kind, _, item in self._heap[:entries]:
            if kind == NOTE_ON:
                self.tracker.rehearse(item.channel, item.pitch, item.velocity)
            elif kind == NOTE_OFF:
                self.tracker.rehearse(item.channel, item.pitch, None)

    def _push(self, position: float, kind: int, item: object) -> None:
        heapq.heappush(self._heap, (position, kind, next(self._seq), item))
