"""The terminal status line: bar, mood, tempo, generation time and lateness, rewritten each bar.

Log lines are printed above it (the line is cleared, the log written, the line
redrawn), so the two never run into each other.
"""

from __future__ import annotations

import logging
import sys
import threading

from livegan.timing.sequencer import BarStarted

CLEAR = "\r\x1b[2K"


class StatusLine:
    """One line on stderr, shown only when stderr is a terminal and not ``--quiet``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.text = ""
        self._lock = threading.Lock()
        if enabled:
            _route_logs_above(self)

    def update(self, bar: BarStarted) -> None:
        """Called by the sequencer at each bar start (the clock thread: keep it cheap)."""
        if not self.enabled:
            return
        mood = bar.mood.describe() if bar.mood else "-"
        gen = f"{bar.gen_seconds * 1e3:5.1f} ms" if bar.gen_seconds is not None else " late  "
        late = bar.lateness.summary()
        self.show(f"bar {bar.number:5d} | {mood} | {bar.tempo} | gen {gen} | late p99 {late['p99_ms']:.2f} ms")

    def show(self, text: str) -> None:
        with self._lock:
            self.text = text
            sys.stderr.write(CLEAR + text)
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.text:
            with self._lock:
                sys.stderr.write("\n")
                self.text = ""


class _AboveStatus(logging.Handler):
    """Writes each log record on its own line above the status line."""

    def __init__(self, status: StatusLine, inner: logging.Handler) -> None:
        super().__init__(inner.level)
        self.status = status
        self.inner = inner

    def emit(self, record: logging.LogRecord) -> None:
        with self.status._lock:
            sys.stderr.write(CLEAR)
            self.inner.emit(record)
            if self.status.text:
                sys.stderr.write(self.status.text)
            sys.stderr.flush()


def _route_logs_above(status: StatusLine) -> None:
    root = logging.getLogger()
    for i, handler in enumerate(root.handlers):
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stderr:
            root.handlers[i] = _AboveStatus(status, handler)
