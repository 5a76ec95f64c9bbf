"""A port that remembers: what was sent, stamped by a clock (tests, ``livegan render``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import mido


class MemoryOutput(mido.ports.BaseOutput):
    """An output that keeps what it is sent, with the time of sending, for unit tests."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.sent: list[tuple[float, mido.Message]] = []
        super().__init__("memory")

    def _send(self, msg: mido.Message) -> None:
        self.sent.append((self.clock(), msg.copy()))
