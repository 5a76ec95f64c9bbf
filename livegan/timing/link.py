"""Ableton Link: tempo and bar phase shared with Live (and other Link apps) over the local network.

Optional: ``pip install 'livegan[link]'`` (LinkPython-extern, a pybind11 binding of
Ableton's Link library, GPLv2+). Link opens network sockets, so it is used only with
``--clock link``. Bar 1 starts at the next bar of the Link session (quantum =
beats per bar), so LiveGAN's bars line up with Live's; the session's tempo is
followed whenever a peer changes it.
"""

from __future__ import annotations

from livegan.errors import UserError
from livegan.timing.clock import Clock
from livegan.timing.transport import Wait


def _import_link():
    try:
        import link
    except ImportError:
        raise UserError("--clock link needs Ableton Link's binding: pip install 'livegan[link]'") from None
    return link


class LinkTransport:
    """Positions (steps) on a Link session's beat timeline, converted to the clock's seconds."""

    def __init__(self, clock: Clock, bpm: float, steps_per_beat: int, beats_per_bar: int,
                 session: object | None = None, poll: float = 0.02, spin: float = 0.0015, join_timeout: float = 1.0) -> None:
        self.clock = clock
        self.steps_per_beat = steps_per_beat
        self.quantum = float(beats_per_bar)
        self.poll = poll
        self.spin = spin
        self.join_timeout = join_timeout
        if session is None:
            session = _import_link().Link(bpm)
            session.enabled = True
        self.session = session
        self.origin = 0.0  # the Link beat where our position 0 lies
        self._started = False
        self._offset = self._clock_offset()

    def _clock_offset(self) -> float:
        """Seconds to add to Link's clock (microseconds) to get ``clock.now()``; the tightest of a few reads."""
        best = None
        for _ in range(5):
            before = self.clock.now()
            micros = self.session.clock().micros()
            after = self.clock.now()
            if best is None or after - before < best[0]:
                best = (after - before, (before + after) / 2 - micros / 1e6)
        return best[1]

    def arm(self, preroll: float) -> None:
        pass  # bar 1 lands on the session's next bar line (wait_for_start)

    def now(self) -> float:
        return self.clock.now()

    def wait_for_start(self) -> float | None:
        """Start once, at the Link session's next bar line."""
        if self._started or self.clock.stop.is_set():
            return None
        self._started = True
        # Give a session on the network a moment to be found, so bar 1 lands on *its* bar line.
        deadline = self.clock.now() + self.join_timeout
        while self.session.numPeers() == 0 and self.clock.now() < deadline and not self.clock.stop.wait(0.02):
            pass
        state = self.session.captureAppSessionState()
        now = self.session.clock().micros()
        bar = round((state.beatAtTime(now, self.quantum) - state.phaseAtTime(now, self.quantum)) / self.quantum)
        self.origin = (bar + 1) * self.quantum  # the session's next bar line
        return 0.0

    def time_of(self, position: float) -> float:
        beat = self.origin + position / self.steps_per_beat
        micros = self.session.captureAppSessionState().timeAtBeat(beat, self.quantum)
        return micros / 1e6 + self._offset

    def wait_until(self, position: float) -> Wait:
        """Sleep towards the position, re-reading the session so tempo changes are followed."""
        while True:
            due = self.time_of(position)
            remaining = due - self.clock.now()
            if remaining <= self.poll:
                return Wait.REACHED if self.clock.sleep_until(due) else Wait.QUIT
            self.clock.kick()
            if self.clock.stop.wait(min(remaining - self.poll, self.poll)):
                return Wait.QUIT
            self._offset = self._clock_offset()  # the two clocks may slew apart over hours

    @property
    def bpm(self) -> float:
        return self.session.captureAppSessionState().tempo()

    def describe(self) -> str:
        return f"{self.bpm:.1f} BPM (Link, {self.session.numPeers()} peers)"

    def close(self) -> None:
        self.session.enabled = False
