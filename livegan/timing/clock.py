"""Time for the live path: one monotonic clock, absolute deadlines, sleep then spin.

Every event has an absolute deadline (``t0 + offset``), never "now + interval", so
scheduling errors do not add up over hours. Sleeping to a deadline sleeps until
just before it and spins the last fraction of a millisecond, because plain sleeps
overshoot by 0.1-0.3 ms on Linux and more elsewhere. A stop request wakes any sleep
at once.

The clock thread shares the interpreter lock with the daemon's other threads (the
input poller, the composer). From the start of its spin until it next waits, it keeps
the lock: the interpreter's switch interval is raised meanwhile, so a thread that asks
for the lock waits until the clock thread has sent and sleeps again, instead of making
it yield mid-spin or mid-send and wait for the lock to come back across cores (on an
idle 2-core VM that hand-over took up to 1-2 ms; ``benchmarks/timing.py``). While the
clock thread waits, the switch interval is what the process set (``livegan run``:
0.5 ms), so a thread holding the lock when it wakes gives it up quickly.
"""

from __future__ import annotations

import faulthandler
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

HOLD_SWITCH_INTERVAL = 0.005  # s: the interpreter's switch interval from a spin's start to the next wait
SPIN_SECONDS = 0.001  # s: spun before each deadline (covers a real-time thread's wake-up and the lock)
REARM_SECONDS = 1.0  # s: the hang watchdog is re-armed at most this often (re-arming costs up to 0.6 ms)
REARM_MARGIN = 0.002  # s: ... and only this long before the spin of a deadline starts, unless it is overdue
REHEARSAL_LEAD = 0.0001  # s: the last rehearsal starts at least this long before its deadline (see Rehearsed)


class Clock(Protocol):
    """What the sequencer needs from time: a monotonic ``now``, an interruptible wait, and its stop flag."""

    stop: threading.Event

    def now(self) -> float: ...

    def sleep_until(self, deadline: float, meanwhile: Callable[[], object] | None = None) -> bool:
        """Wait for ``deadline`` (seconds on this clock); False if a stop was requested first.

        meanwhile : called over and over while the wait spins, until :data:`REHEARSAL_LEAD` before
            the deadline (a clock that does not spin calls it once, when it waits at all).
        """
        ...

    def kick(self) -> None:
        """Tell the hang watchdog (if any) that the clock thread is alive; a transport calls it right
        before it blocks on anything but :meth:`sleep_until`."""
        ...


class MonotonicClock:
    """The real clock: ``time.perf_counter`` (monotonic, sub-microsecond) with a spin finish.

    spin : the last seconds before a deadline are spun, not slept (they cover the thread's
        wake-up and getting the interpreter lock back).
    hang_timeout : see :meth:`kick`; None: no watchdog.
    hold_interval : the interpreter's switch interval from the start of a spin until the clock
        thread next waits (see the module's docstring); None leaves it alone.
    """

    def __init__(self, stop: threading.Event | None = None, spin: float = SPIN_SECONDS, hang_timeout: float | None = None,
                 hold_interval: float | None = HOLD_SWITCH_INTERVAL) -> None:
        self.stop = stop or threading.Event()
        self.spin = spin
        self.hang_timeout = hang_timeout
        self.hold_interval = hold_interval
        self._rearm_every = min(REARM_SECONDS, hang_timeout / 4) if hang_timeout else math.inf
        self._armed_at = -math.inf
        self._held: float | None = None  # the switch interval to give back, while holding the lock

    def now(self) -> float:
        return time.perf_counter()

    def kick(self) -> None:
        """Keep the hang watchdog armed: if the clock thread is stuck for ``hang_timeout`` seconds (say,
        inside a MIDI driver call that never returns and holds the GIL), a C-level timer that needs
        no GIL prints every thread's stack and ends the process with exit code 1, instead of hanging.

        Re-arming (faulthandler stops its timer thread and starts a new one, holding the lock) costs
        0.1-0.6 ms, so it happens at most every second (a quarter of ``hang_timeout`` if that is
        shorter), with the timer set that much longer: a stuck thread ends the process between
        ``hang_timeout`` and ``hang_timeout`` + 2 s after its last sign of life.

        The transports call it before they block: the lock is no longer held then.
        """
        self._let_go()
        self._rearm(math.inf)

    def _rearm(self, time_left: float) -> None:
        """Re-arm the watchdog if it is due and ``time_left`` (s before the next spin) allows, or if it is overdue."""
        if not self.hang_timeout:
            return
        now = time.perf_counter()
        age = now - self._armed_at
        if age >= 2 * self._rearm_every or (age >= self._rearm_every and time_left > REARM_MARGIN):
            self._armed_at = now
            faulthandler.dump_traceback_later(self.hang_timeout + 2 * self._rearm_every, exit=True)

    def disarm(self) -> None:
        """Stop the hang watchdog and give the switch interval back (the session is over)."""
        faulthandler.cancel_dump_traceback_later()
        self._armed_at = -math.inf
        self._let_go()

    def sleep_until(self, deadline: float, meanwhile: Callable[[], object] | None = None) -> bool:
        self._rearm(deadline - time.perf_counter() - self.spin)
        while True:
            remaining = deadline - time.perf_counter()
            if self.stop.is_set():
                return False
            if remaining <= 0.0:
                self._hold()  # woke late, or the next message of a chord: send keeping the lock
                return True
            if remaining > self.spin:
                self._let_go()
                if self.stop.wait(remaining - self.spin):
                    return False
            else:
                self._hold()
                if meanwhile is not None:
                    while deadline - time.perf_counter() > REHEARSAL_LEAD:
                        meanwhile()
                while time.perf_counter() < deadline:
                    pass
                return not self.stop.is_set()

    def _hold(self) -> None:
        """Raise the switch interval until the next wait (see the module's docstring)."""
        if self.hold_interval is not None and self._held is None:
            self._held = sys.getswitchinterval()
            sys.setswitchinterval(max(self._held, self.hold_interval))

    def _let_go(self) -> None:
        if self._held is not None:
            sys.setswitchinterval(self._held)
            self._held = None


class Rehearsed:
    """``clock``, with ``rehearse`` called over and over through the spin before each deadline, until
    :data:`REHEARSAL_LEAD` before it, so that what runs at the deadline finds its code and data hot. A
    deadline already due (the next message of a chord) is not rehearsed again.

    Once is not enough on a virtual machine: there, memory untouched for tens of milliseconds can
    cost 0.1-0.5 ms at its first touch (far more than a cache miss; a C probe that touches 64 cache
    lines after a 1 ms spin, every 62.5 ms, took p99 0.34 ms, and 0.6 us when its spin kept
    touching them: ``benchmarks/timing.py``'s floor rows). A single rehearsal 0.2 ms before the
    deadline paid that stall itself and made the deadline late; rehearsing all through the spin
    pays it while there is still time. The spin burns the core anyway: this costs no CPU.
    """

    def __init__(self, clock: Clock, rehearse: Callable[[], object]) -> None:
        self.clock = clock
        self.rehearse = rehearse
        self.stop = clock.stop

    def now(self) -> float:
        return self.clock.now()

    def kick(self) -> None:
        self.clock.kick()

    def sleep_until(self, deadline: float, meanwhile: Callable[[], object] | None = None) -> bool:
        rehearse = self.rehearse if meanwhile is None else lambda: (self.rehearse(), meanwhile())
        return self.clock.sleep_until(deadline, rehearse)


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

    def sleep_until(self, deadline: float, meanwhile: Callable[[], object] | None = None) -> bool:
        if self.stop.is_set():
            return False
        if meanwhile is not None and deadline > self.time:
            meanwhile()
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
