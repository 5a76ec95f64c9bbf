"""Transports: where the musical timeline comes from. Positions are in steps from the song start.

- :class:`InternalTransport`: LiveGAN is the master; step ``p`` is due at exactly
  ``t0 + p * step_seconds`` (absolute, so nothing drifts).
- :class:`MidiClockFollower`: a DAW is the master; MIDI clock (24 ticks per quarter
  note), Start, Continue, Stop and Song Position Pointer drive the timeline. Each
  tick is stamped on arrival; a least-squares line through the last ticks gives
  tempo and phase, so jitter is smoothed and a tempo change is followed within a
  beat. Events are due where that line puts them, re-read while waiting.

The sequencer asks a transport two things: wait for a position (:meth:`wait_until`)
and, when stopped, wait for the next start (:meth:`wait_for_start`).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from typing import Protocol

import mido
import numpy as np

from livegan.timing.clock import Clock

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 24  # MIDI clock resolution
TICKS_PER_SPP = 6  # a Song Position Pointer unit is a 16th note


class Wait(enum.Enum):
    REACHED = "reached"  # the position is due now
    STOPPED = "stopped"  # the master stopped (or relocated): release notes, wait for a start
    QUIT = "quit"  # LiveGAN is shutting down


class Transport(Protocol):
    """Where the playhead is: positions in steps from the song start, mapped to seconds on a clock."""

    def arm(self, preroll: float) -> None:
        """Get ready to play: an internal tempo starts ``preroll`` seconds from now; a follower waits for its master."""
        ...

    def wait_for_start(self) -> float | None:
        """Block until playback (re)starts; the position (steps) to start from, or None to quit."""
        ...

    def wait_until(self, position: float) -> Wait: ...

    def time_of(self, position: float) -> float:
        """When ``position`` is (or was) due, in seconds on the clock; for lateness statistics."""
        ...

    def now(self) -> float:
        """The clock's time now, in seconds (the same clock as :meth:`time_of`)."""
        ...

    def describe(self) -> str: ...

    def close(self) -> None:
        """Leave the master's session, if any."""
        ...


class InternalTransport:
    """A fixed tempo from ``t0``; starts once and plays until the clock's stop is set."""

    def __init__(self, clock: Clock, bpm: float, steps_per_beat: int, t0: float | None = None) -> None:
        self.clock = clock
        self.bpm = bpm
        self.step_seconds = 60.0 / bpm / steps_per_beat
        self.t0 = t0
        self._started = False

    def arm(self, preroll: float) -> None:
        """Bar 1 starts ``preroll`` seconds from now (absolute: every later bar counts from it)."""
        self.t0 = self.clock.now() + preroll

    def now(self) -> float:
        return self.clock.now()

    def close(self) -> None:
        pass

    def wait_for_start(self) -> float | None:
        if self._started or self.clock.stop.is_set():
            return None
        self._started = True
        if self.t0 is None:
            self.t0 = self.clock.now()
        return 0.0

    def time_of(self, position: float) -> float:
        return self.t0 + position * self.step_seconds

    def wait_until(self, position: float) -> Wait:
        return Wait.REACHED if self.clock.sleep_until(self.time_of(position)) else Wait.QUIT

    def describe(self) -> str:
        return f"{self.bpm:g} BPM"


class TempoEstimator:
    """Least-squares fit of tick arrival time against tick index over a sliding window.

    Robust to per-tick jitter (the fit averages it out), follows tempo changes
    within ``window`` ticks, and is reset by a Start or a gap longer than ``max_gap``.
    """

    def __init__(self, window: int = 24, max_gap: float = 0.5) -> None:
        self.window = window
        self.max_gap = max_gap
        self.ticks: deque[tuple[int, float]] = deque(maxlen=window)
        self._fit: tuple[float, float] | None = None  # (time at tick 0, seconds per tick)

    def reset(self) -> None:
        self.ticks.clear()
        self._fit = None

    def add(self, tick: int, arrival: float) -> None:
        if self.ticks and arrival - self.ticks[-1][1] > self.max_gap:
            self.reset()
        self.ticks.append((tick, arrival))
        if len(self.ticks) >= 3:
            index = np.fromiter((k for k, _ in self.ticks), float)
            times = np.fromiter((t for _, t in self.ticks), float)
            slope, intercept = np.polyfit(index, times, 1)
            if slope > 0:
                self._fit = (intercept, slope)
        elif len(self.ticks) == 2:
            (k0, t0), (k1, t1) = self.ticks
            if t1 > t0:
                self._fit = (t0 - k0 * (t1 - t0) / (k1 - k0), (t1 - t0) / (k1 - k0))

    @property
    def seconds_per_tick(self) -> float | None:
        return self._fit[1] if self._fit else None

    @property
    def bpm(self) -> float | None:
        spt = self.seconds_per_tick
        return 60.0 / (spt * TICKS_PER_BEAT) if spt else None

    def time_of(self, tick: float) -> float | None:
        """Predicted arrival of ``tick`` on the fitted line (None before two ticks)."""
        if self._fit is None:
            return None
        intercept, slope = self._fit
        return intercept + slope * tick


class MidiClockFollower:
    """Follows a MIDI clock master. :meth:`record` is called from the input callback."""

    def __init__(self, clock: Clock, steps_per_beat: int, window: int = 24, spin: float = 0.0015) -> None:
        self.clock = clock
        self.ticks_per_step = TICKS_PER_BEAT / steps_per_beat
        self.estimator = TempoEstimator(window)
        self.spin = spin
        self._cond = threading.Condition()
        self._running = False
        self._armed = False  # Start/Continue received: the next tick starts playback
        self._tick = -1  # index of the last tick received, counted from song position 0
        self._song_tick = 0  # where Start/Continue/SPP put the playhead (ticks)
        self._segment = 0  # bumped at every (re)start, so a waiter sees relocations
        self._waiting_segment = 0

    # -- input side (rtmidi's thread): record and notify only ----------------------------
    def record(self, msg: mido.Message, arrival: float | None = None) -> bool:
        """Take a realtime message; returns True if it was one of ours."""
        arrival = time.perf_counter() if arrival is None else arrival
        kind = msg.type
        with self._cond:
            if kind == "clock":
                self._on_tick(arrival)
            elif kind == "start":
                self._song_tick, self._armed, self._running = 0, True, False
                self.estimator.reset()
            elif kind == "continue":
                self._armed, self._running = True, False
            elif kind == "stop":
                self._running = self._armed = False
                self._song_tick = max(self._tick + 1, 0) if self._tick >= 0 else self._song_tick
            elif kind == "songpos":
                if not self._running:
                    self._song_tick = msg.pos * TICKS_PER_SPP
            else:
                return False
            self._cond.notify_all()
        return True

    def _on_tick(self, arrival: float) -> None:
        if self._armed:  # the first tick after Start/Continue is the playhead's position
            self._armed, self._running = False, True
            self._tick = self._song_tick
            self._segment += 1
            self.estimator.reset()  # ticks before a stop say nothing about the time of ticks after it
        elif self._running:
            self._tick += 1
        else:
            return  # clock while stopped: DAWs send it; it does not move the playhead
        self.estimator.add(self._tick, arrival)

    # -- sequencer side -------------------------------------------------------------------
    def arm(self, preroll: float) -> None:
        log.info("waiting for MIDI clock and Start (or Continue) on the input port")

    def now(self) -> float:
        return self.clock.now()

    def close(self) -> None:
        pass

    def wait_for_start(self) -> float | None:
        with self._cond:
            while not self._running:
                if self.clock.stop.is_set():
                    return None
                self.clock.kick()
                self._cond.wait(0.05)
            self._waiting_segment = self._segment
            return self._tick / self.ticks_per_step

    def time_of(self, position: float) -> float:
        predicted = self.estimator.time_of(position * self.ticks_per_step)
        return predicted if predicted is not None else self.clock.now()

    def wait_until(self, position: float) -> Wait:
        target = position * self.ticks_per_step
        while True:
            with self._cond:
                if self.clock.stop.is_set():
                    return Wait.QUIT
                if not self._running or self._segment != self._waiting_segment:
                    return Wait.STOPPED
                if target <= self._tick:
                    return Wait.REACHED
                due = self.estimator.time_of(target)
                now = self.clock.now()
                if due is None or due - now > self.spin:
                    # Sleep until shortly before it is due, or until the next tick re-fits the line.
                    timeout = 0.05 if due is None else min(due - now - self.spin, 0.05)
                    self.clock.kick()
                    self._cond.wait(max(timeout, 0.0))
                    continue
            return Wait.REACHED if self.clock.sleep_until(due) else Wait.QUIT

    def describe(self) -> str:
        bpm = self.estimator.bpm
        return f"{bpm:.1f} BPM (MIDI clock)" if bpm else "waiting for MIDI clock"

    @property
    def bpm(self) -> float | None:
        return self.estimator.bpm
