"""Time for the live path: one monotonic clock, absolute deadlines, sleep then spin.

Every event has an absolute deadline (``t0 + offset``), never "now + interval", so
scheduling errors do not add up over hours. Sleeping to a deadline sleeps until
just before it and spins the last fraction of a millisecond, because plain sleeps
overshoot by 0.1-0.3 ms on Linux and more elsewhere. A stop request wakes any sleep
at once.
"""

from __future__ import annotations

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


class MonotonicClock:
    """The real clock: ``time.perf_counter`` (monotonic, sub-microsecond) with a spin finish."""

    def __init__(self, stop: threading.Event | None = None, spin: float = 0.0015) -> None:
        self.stop = stop or threading.Event()
        self.spin = spin

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, deadline: float) -> bool:
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

    def sleep_until(self, deadline: float) -> bool:
        if self.stop.is_set():
            return False
        self.time = max(self.time, deadline + self.lateness)
        return True
