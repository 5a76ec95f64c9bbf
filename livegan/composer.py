"""The generation worker: keeps the bars ahead of the playhead generated, in the current mood.

It runs in its own thread so that generation never blocks the clock. The
sequencer *takes* bar k when bar k starts; the composer then makes sure bars
k+1 .. k+lookahead exist and were generated in the mood the controls ask for now.
A bar generated in an older mood is regenerated (same latent, new mood), so a
mood change is heard from the next bar boundary on. If a bar is not ready in
time, the sequencer plays what there is (or silence) rather than wait.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from livegan.contract import ModelInfo
from livegan.engine import LatentSpec
from livegan.latent import LatentWalk
from livegan.mood import Mood
from livegan.perform import NoteEvent, perform_bar, phrase_notes, split_bars

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bar:
    """One bar ready to play: events in steps from its start, and the mood it was made in."""

    index: int
    events: list[NoteEvent]
    mood: Mood
    version: int
    gen_seconds: float


class Generator:
    """What the composer needs from a model: its contract, its latent inputs and a generate call.

    :class:`~livegan.engine.OnnxGenerator` is the real one.
    """

    info: ModelInfo
    latents: tuple[LatentSpec, ...]

    def generate(self, latents: dict[str, np.ndarray], mood: np.ndarray) -> np.ndarray: ...


class Composer:
    """Generates bars ahead of the playhead in a background thread.

    Parameters
    ----------
    generator : the model (an :class:`~livegan.engine.OnnxGenerator` or a test double).
    walk : latents per phrase.
    mood_now : returns (version, mood) of what the controls ask for now; called by the worker only.
    lookahead : bars kept generated after the one playing (at least 1).
    background : generate in a worker thread (live). False generates inside :meth:`take`,
        for simulations on a fake clock, where no real time passes for a thread to use.
    """

    def __init__(self, generator: Generator, walk: LatentWalk, mood_now: Callable[[], tuple[int, Mood]],
                 lookahead: int = 2, threshold: float | None = None, background: bool = True) -> None:
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1 bar, got {lookahead}")
        self.generator = generator
        self.info = generator.info
        self.walk = walk
        self.mood_now = mood_now
        self.lookahead = lookahead
        self.threshold = threshold
        self.background = background
        self.error: BaseException | None = None
        self._bars: dict[int, Bar] = {}
        self._playhead = -1
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._work, name="livegan-composer", daemon=True)

    # -- called from the sequencer (clock thread) -------------------------------------------
    def start(self) -> None:
        if self.background:
            self._thread.start()

    def wait_ready(self, timeout: float, stop: threading.Event) -> bool:
        """Block until the first bar exists (before playback starts); False on timeout, error or stop."""
        if not self.background:
            self._fill()
        deadline = time.monotonic() + timeout
        with self._cond:
            while 0 not in self._bars and self.error is None and not stop.is_set() and time.monotonic() < deadline:
                self._cond.wait(0.05)
            return 0 in self._bars

    def take(self, index: int) -> Bar | None:
        """Bar ``index`` as generated so far (None if not ready); moves the playhead to it."""
        if not self.background and self.error is None:
            self._playhead = index - 1
            try:
                self._fill()
            except Exception as exc:
                self.error = exc
        with self._cond:
            if self.error is not None:
                raise RuntimeError(f"generation failed: {self.error!r}") from self.error
            bar = self._bars.pop(index, None)
            for old in [i for i in self._bars if i < index]:
                del self._bars[old]
            self._playhead = index
            self._cond.notify_all()
        return bar

    def wake(self) -> None:
        """Tell the worker that the controls changed (called after recording a control)."""
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    # -- the worker -----------------------------------------------------------------------
    def _work(self) -> None:
        _lower_priority()
        try:
            while True:
                with self._cond:
                    job = self._next_job()
                    while job is None and not self._stopped:
                        self._cond.wait(0.25)
                        job = self._next_job()
                    if self._stopped:
                        return
                self._compose_from(*job)
        except BaseException as exc:  # handed to the clock thread, which releases notes and stops
            log.debug("composer failed", exc_info=True)
            with self._cond:
                self.error = exc
                self._cond.notify_all()

    def _fill(self) -> None:
        """Generate every bar due now, in the caller's thread (``background=False``)."""
        while (job := self._next_job()) is not None:
            self._compose_from(*job)

    def _next_job(self) -> tuple[int, int, Mood] | None:
        """The first bar ahead that is missing or made in an older mood, with the mood to make it in."""
        version, mood = self.mood_now()
        for index in range(self._playhead + 1, self._playhead + 1 + self.lookahead):
            bar = self._bars.get(index)
            if bar is None or bar.version != version:
                return index, version, mood
        return None

    def _compose_from(self, index: int, version: int, mood: Mood) -> None:
        """Generate the phrase holding bar ``index`` and keep its bars from ``index`` on."""
        phrase, first = divmod(index, self.info.bars)
        started = time.perf_counter()
        probs = self.generator.generate(self.walk.phrase(phrase), np.array([mood.point], dtype=np.float32))[0]
        notes = split_bars(phrase_notes(probs, self.info, self.threshold), self.info, first)
        seconds = time.perf_counter() - started
        bars = {index + i: Bar(index + i, perform_bar(n, self.info, mood, index + i), mood, version, seconds)
                for i, n in enumerate(notes)}
        with self._cond:
            self._bars.update({i: b for i, b in bars.items() if i > self._playhead})
            self._cond.notify_all()
        log.debug("generated bars %d-%d in %.1f ms (%s)", index + 1, index + len(bars), seconds * 1e3, mood.describe())


def _lower_priority() -> None:
    """Let the clock thread win the CPU: on Linux a thread's nice value is its own."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:  # not permitted or not supported: timing then relies on the GIL interval alone
            pass
