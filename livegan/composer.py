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
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from livegan.contract import ModelInfo
from livegan.engine import LatentSpec
from livegan.guide import MoodGuide
from livegan.latent import LatentWalk
from livegan.mood import Mood
from livegan.perform import NoteEvent, perform_notes, phrase_notes, split_bars, threshold_for

log = logging.getLogger(__name__)

REMAKE_INTERVAL = 0.04  # seconds: how often at most a bar ahead is regenerated for a newer mood


@dataclass(frozen=True)
class Bar:
    """One bar ready to play: (note-on, note-off) pairs timed in steps from its start, and its mood."""

    index: int
    notes: list[tuple[NoteEvent, NoteEvent]]
    mood: Mood
    version: int
    gen_seconds: float

    @property
    def events(self) -> list[NoteEvent]:
        """All events of the bar sorted by time (releases first at equal times)."""
        return sorted(e for pair in self.notes for e in pair)


class Generator(Protocol):
    """What the composer needs from a model: its contract, its latent inputs and a generate call.

    :class:`~livegan.engine.OnnxGenerator` is the real one.
    """

    info: ModelInfo
    latents: tuple[LatentSpec, ...]

    def generate(self, latents: dict[str, np.ndarray], mood: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Morph:
    """A glide from one mood to another, starting at bar ``start`` and lasting ``bars`` bars."""

    version: int
    source: Mood
    target: Mood
    start: int
    bars: int

    def at(self, index: int) -> Mood:
        if self.bars <= 0 or index >= self.start + self.bars - 1:
            return self.target
        return self.source.blend(self.target, (index - self.start + 1) / self.bars)


class Composer:
    """Generates bars ahead of the playhead in a background thread.

    Parameters
    ----------
    generator : the model (an :class:`~livegan.engine.OnnxGenerator` or a test double).
    walk : latents per phrase.
    mood_now : returns (version, mood) of what the controls ask for now; called by the worker only.
    lookahead : bars kept generated after the one playing (at least 1).
    morph_bars : a mood change glides over this many bars (0: it switches at once).
    include_current : regenerate the bar that is playing too (mood switches on the beat).
    guide : choose each phrase among candidate latents by how well it fits the mood
        (:mod:`livegan.guide`); None plays the walk's latent as it is.
    background : generate in a worker thread (live). False generates inside :meth:`take`,
        for simulations on a fake clock, where no real time passes for a thread to use.
    """

    def __init__(self, generator: Generator, walk: LatentWalk, mood_now: Callable[[], tuple[int, Mood]],
                 lookahead: int = 2, threshold: float | None = None, background: bool = True,
                 morph_bars: int = 0, include_current: bool = False, guide: MoodGuide | None = None) -> None:
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1 bar, got {lookahead}")
        self.generator = generator
        self.info = generator.info
        self.walk = walk
        self.mood_now = mood_now
        self.lookahead = lookahead
        self.threshold = threshold
        self.background = background
        self.morph_bars = morph_bars
        self.include_current = include_current
        self.guide = guide
        self.error: BaseException | None = None
        self._bars: dict[int, Bar] = {}
        self._playhead = -1
        self._morph: Morph | None = None
        self._made_at: dict[int, float] = {}  # when each bar ahead was last generated (monotonic s)
        self._retry = 0.25
        self._last_mood: Mood | None = None  # mood of the last bar taken
        # A step model's context after each bar (what the next bar continues); see _compose_step.
        self.stateful = bool(getattr(generator, "stateful", False))
        self._contexts: dict[int, object] = {}
        self.opening = generator.start(1) if self.stateful else None  # the context before bar 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._work, name="livegan-composer", daemon=True)

    # -- called from the sequencer (clock thread) -------------------------------------------
    def start(self) -> None:
        if self.background:
            self._thread.start()

    def wait_ready(self, timeout: float, stop: threading.Event, index: int = 0) -> bool:
        """Block until bar ``index`` exists (before playback starts); False on timeout, error or stop."""
        if not self.background:
            self._fill()
        deadline = time.monotonic() + timeout
        with self._cond:
            while index not in self._bars and self.error is None and not stop.is_set() and time.monotonic() < deadline:
                self._cond.wait(0.05)
            return index in self._bars

    def take(self, index: int) -> Bar | None:
        """The latest version of bar ``index`` (None if not ready); moves the playhead to it.

        Taking a bar again (at each beat, with ``include_current``) returns its newest version.
        """
        if not self.background and self.error is None:
            again = index == self._playhead
            if not again:
                self._playhead = index - 1
            try:
                self._fill(include_playhead=again and self.include_current)
            except Exception as exc:
                self.error = exc
        with self._cond:
            if self.error is not None:
                raise RuntimeError(f"generation failed: {self.error!r}") from self.error
            for old in [i for i in self._bars if i < index]:
                del self._bars[old]
            self._playhead = index
            bar = self._bars.get(index)
            if bar is not None:
                self._last_mood = bar.mood
            self._cond.notify_all()
        return bar

    def relocate(self, index: int) -> None:
        """Playback (re)starts at bar ``index`` (a DAW's Start, Continue or Song Position).

        Bars generated ahead from ``index`` on stay: they are the next bars, wherever the song is.
        """
        with self._cond:
            for old in [i for i in self._bars if i < index]:
                del self._bars[old]
            self._playhead = index - 1
            self._cond.notify_all()

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
        # The worker keeps normal priority on purpose: a lowered (niced) worker that is
        # descheduled while it holds the GIL would keep the clock thread waiting for it, and a
        # real-time one (inherited by accident) could starve a non-real-time JACK server.
        _normal_priority()
        try:
            while True:
                with self._cond:
                    job = self._next_job()
                    while job is None and not self._stopped:
                        self._cond.wait(self._retry)
                        job = self._next_job()
                    if self._stopped:
                        return
                self._compose_from(*job)
        except BaseException as exc:  # handed to the clock thread, which releases notes and stops
            log.debug("composer failed", exc_info=True)
            with self._cond:
                self.error = exc
                self._cond.notify_all()

    def _fill(self, include_playhead: bool = True) -> None:
        """Generate every bar due now, in the caller's thread (``background=False``)."""
        while (job := self._next_job(include_playhead)) is not None:
            self._compose_from(*job)

    def _next_job(self, include_playhead: bool | None = None) -> tuple[int, Morph] | None:
        """The first bar ahead that is missing or made in an older mood, with the morph to make it in.

        In the background, a bar is remade at most every ``REMAKE_INTERVAL`` seconds, so a
        flood of knob moves costs a few generations per bar, not one per message.
        """
        version, mood = self.mood_now()
        current = self.include_current if include_playhead is None else include_playhead
        first = self._playhead if current and self._playhead >= 0 else self._playhead + 1
        now = time.monotonic()
        self._retry = 0.25
        for index in range(first, self._playhead + 1 + self.lookahead):
            bar = self._bars.get(index)
            if bar is None:
                return index, self._morph_for(version, mood, index)
            if bar.version != version:
                wait = self._made_at.get(index, 0.0) + REMAKE_INTERVAL - now
                if not self.background or wait <= 0:
                    return index, self._morph_for(version, mood, index)
                self._retry = min(self._retry, wait)
        return None

    def _morph_for(self, version: int, mood: Mood, index: int) -> Morph:
        """Keep the glide in progress for this version, or start one from the mood playing now."""
        if self._morph is None or self._morph.version != version:
            source = self._last_mood or mood
            bars = self.morph_bars if self._morph is not None else 0  # the first mood is not a change
            self._morph = Morph(version, source, mood, index, bars)
        return self._morph

    def _compose_from(self, index: int, morph: Morph) -> None:
        """Generate the phrase holding bar ``index`` and keep its bars from ``index`` on."""
        if self.stateful:
            self._compose_step(index, morph)
            return
        phrase, first = divmod(index, self.info.bars)
        indices = range(index, (phrase + 1) * self.info.bars)
        moods = [morph.at(i) for i in indices]
        started = time.perf_counter()
        latents = self.walk.phrase(phrase)
        if self.guide is not None:
            latents = self.guide.latents(latents, phrase)
        n_candidates = len(next(iter(latents.values())))
        by_key = {(m.point, m.density): m for m in moods}
        distinct = list(by_key)
        # Row r of the batch is candidate r // len(distinct) in mood r % len(distinct).
        batch = {k: np.repeat(v, len(distinct), axis=0) for k, v in latents.items()}
        points = np.tile(np.array([p for p, _ in distinct], dtype=np.float32), (n_candidates, 1))
        probs = self.generator.generate(batch, points)
        probs = probs.reshape(n_candidates, len(distinct), *probs.shape[1:])
        chosen = {}
        for d, key in enumerate(distinct):
            threshold = threshold_for(self.info, by_key[key], self.threshold)
            pick = self.guide.choose(probs[:, d] > threshold, *key[0]) if self.guide is not None else 0
            chosen[key] = probs[pick, d]
        bars: dict[int, Bar] = {}
        for i, mood in zip(indices, moods):
            item = chosen[(mood.point, mood.density)]
            notes = split_bars(phrase_notes(item, self.info, threshold_for(self.info, mood, self.threshold)), self.info, first)
            bars[i] = Bar(i, perform_notes(notes[i - index], self.info, mood, i), mood, morph.version, 0.0)
        seconds = time.perf_counter() - started
        bars = {i: replace(b, gen_seconds=seconds) for i, b in bars.items()}
        with self._cond:
            low = self._playhead if self.include_current else self._playhead + 1
            self._bars.update({i: b for i, b in bars.items() if i >= low})
            made = time.monotonic()
            self._made_at = {i: self._made_at.get(i, made) for i in self._bars} | {i: made for i in bars if i >= low}
            self._cond.notify_all()
        log.debug("generated bars %d-%d in %.1f ms (%s)", index + 1, indices[-1] + 1, seconds * 1e3, moods[0].describe())



    def _compose_step(self, index: int, morph: Morph) -> None:
        """A step model's bar ``index``, continuing the bar before it (played, or planned to be).

        The walk gives each bar its sampling noise; with guidance, the candidates are
        different noises from the same context. Remaking a bar drops the bars after it,
        which continued the old version and are remade from the new one.
        """
        mood = morph.at(index)
        started = time.perf_counter()
        latents = self.walk.phrase(index)
        if self.guide is not None:
            latents = self.guide.latents(latents, index)
        n = len(next(iter(latents.values())))
        with self._cond:
            context = self._contexts.get(index - 1, self.opening)
        points = np.tile(np.array([mood.point], dtype=np.float32), (n, 1))
        probs, after = self.generator.continue_bars(latents, points, context.repeat(n), bars=1)
        bar_info = replace(self.info, bars=1)
        threshold = threshold_for(self.info, mood, self.threshold)
        pick = self.guide.choose(probs > threshold, *mood.point) if self.guide is not None else 0
        notes = phrase_notes(probs[pick], bar_info, threshold)
        bar = Bar(index, perform_notes(notes, self.info, mood, index), mood, morph.version, time.perf_counter() - started)
        with self._cond:
            low = self._playhead if self.include_current else self._playhead + 1
            if index >= low:
                for later in [i for i in self._bars if i > index]:
                    del self._bars[later]
                self._bars[index] = bar
                self._contexts = {i: c for i, c in self._contexts.items() if low - 1 <= i < index}
                self._contexts[index] = after.row(pick)
                self._made_at[index] = time.monotonic()
            self._cond.notify_all()
        log.debug("generated bar %d in %.1f ms (%s)", index + 1, bar.gen_seconds * 1e3, mood.describe())


def _normal_priority() -> None:
    """Make sure the calling thread runs under the normal scheduler (SCHED_OTHER)."""
    if hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            pass
