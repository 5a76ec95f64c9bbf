"""Time for the live path: one monotonic clock, absolute deadlines, sleep then spin.

Every event has an absolute deadline (``t0 + offset``), never "now + interval", so
scheduling errors do not add up over hours. Sleeping to a deadline sleeps until
just before it and spins the last fraction of a millisecond, because plain sleeps
overshoot by 0.1-0.3 ms on Linux and more elsewhere. A stop request wakes any sleep
at once.
"""

from __future__ import annotations

import faulthandler
import os
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the sequencer needs from time: a monotonic ``now``, an interruptible wait, and its stop flag."""

    stop: threading.Event

    def now(self) -> float: ...

    def sleep_until(self, deadline: float) -> bool:
        """Wait for ``deadline`` (seconds on this clock); False if a stop was requested first."""
        ...

    def kick(self) -> None:
        """Tell the hang watchdog (if any) that the clock thread is alive."""
        ...


class MonotonicClock:
    """The real clock: ``time.perf_counter`` (monotonic, sub-microsecond) with a spin finish."""

    def __init__(self, stop: threading.Event | None = None, spin: float = 0.0015, hang_timeout: float | None = None) -> None:
        self.stop = stop or threading.Event()
        self.spin = spin
        self.hang_timeout = hang_timeout

    def now(self) -> float:
        return time.perf_counter()

    def kick(self) -> None:
        """Re-arm the hang watchdog: if the clock thread is stuck for ``hang_timeout`` seconds (say,
        inside a MIDI driver call that never returns and holds the GIL), a C-level timer that needs
        no GIL prints every thread's stack and ends the process with exit code 1, instead of hanging."""
        if self.hang_timeout:
            faulthandler.dump_traceback_later(self.hang_timeout, exit=True)

    def disarm(self) -> None:
        faulthandler.cancel_dump_traceback_later()

    def sleep_until(self, deadline: float) -> bool:
        self.kick()
        while True:
            remaining = deadline - time.perf_counter()
            if self.stop.is_set():
                return False
            if remaining <= 0.0:
                return True
            if remaining > self.spin:
                if self.stop.wait(remaining - self.spin):
                    return False
            else:
                while time.perf_counter() < deadline:
                    pass
                return not self.stop.is_set()


class FakeClock:
    """A clock for tests and simulations: time moves only when someone sleeps.

    ``lateness`` (seconds) is added to every wake-up, to simulate a slow scheduler.
    """

    def __init__(self, start: float = 0.0, lateness: float = 0.0) -> None:
        self.time = start
        self.lateness = lateness
        self.stop = threading.Event()

    def now(self) -> float:
        return self.time

    def kick(self) -> None:
        pass

    def sleep_until(self, deadline: float) -> bool:
        if self.stop.is_set():
            return False
        self.time = max(self.time, deadline + self.lateness)
        return True


def try_realtime(priority: int = 10) -> bool:
    """Ask for real-time scheduling (SCHED_FIFO) for the calling thread, as JACK does for its own.

    It lets the clock thread preempt everything else on a busy machine. It needs
    permission (root, or an rtprio limit as JACK users have in limits.conf); without
    it nothing changes. The thread mostly sleeps, and spins at most ``spin`` seconds
    per event, so it cannot hog a core.
    """
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, ValueError):
        return False
    return True
