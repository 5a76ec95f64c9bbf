"""The generation worker: keeps the bars ahead of the playhead generated, in the current mood.

It runs in its own thread so that generation never blocks the clock. The
sequencer *takes* bar k when bar k starts; the composer then makes sure bars
k+1 .. k+lookahead exist and were generated in the mood the controls ask for now.
A bar generated in an older mood is regenerated (same latent, new mood), so a
mood change is heard from the next bar boundary on. If a bar is not ready in
time, the sequencer plays what there is (or silence) rather than wait.

How a bar is made is the runtime's business (:mod:`livegan.generation.runtimes`);
the composer decides which bar is due, in which mood glide, and keeps the result.
With ``background=False`` the same composer works inside :meth:`Composer.take`
(``livegan render`` and simulations on a fake clock): the same bars, no thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable

from livegan.generation.bar import Bar, Cancelled, Generator, Morph
from livegan.generation.guide import MoodGuide
from livegan.generation.latent import LatentWalk, Walk
from livegan.generation.infill import VoiceContext
from livegan.generation.runtimes import Runtime, StopWhen, runtime_for
from livegan.generation.worker import ProcessRuntime, WorkerSpec
from livegan.model.engine import StepContext
from livegan.mood.presets import Mood
from livegan.threads import name_os_thread

log = logging.getLogger(__name__)

FREEZE_BARS = 4  # a freeze repeats the last phrase: this many bars
REMAKE_INTERVAL = 0.04  # seconds: how often at most a bar ahead is regenerated for a newer mood
HANDOVER = 0.03  # seconds from a bar made to a bar the sequencer can take (the pipe, unpacking, keeping)

MoodSource = Callable[[], tuple[int, Mood]]  # () -> (version, mood) asked for now
Due = Callable[[int], "float | None"]  # bar index -> seconds from now until it is wanted (None: not known)
Played = Callable[[int], int]  # bar index -> its steps played by the time a remake of it can be taken


def steer_of(mood: Mood) -> tuple:
    """What a player's playing asks of a bar (the chord held, the notes given, the bars to rest, a new idea): when it
    changes, a bar being made for the old one is abandoned; a knob's move is not (its glide goes on bar by bar)."""
    return mood.chord, mood.bass, mood.avoid, mood.given, mood.rests, mood.idea


class Composer:
    """Generates bars ahead of the playhead, in a background thread or inside :meth:`take`.

    Parameters
    ----------
    runtime : makes the bars (:func:`~livegan.generation.runtimes.runtime_for` picks it).
    mood_now : returns (version, mood) of what the controls ask for now; called by the worker only.
    lookahead : bars kept generated after the one playing (at least 1).
    morph_bars : a mood change glides over this many bars (0: it switches at once).
    include_current : regenerate the bar that is playing too (mood switches on the beat).
    background : generate in a worker thread (live). False generates inside :meth:`take`,
        for renders and simulations on a fake clock, where no real time passes for a thread to use.
    priority : called first in the worker thread to set its scheduling; default: normal priority.
        ``livegan run`` gives it real-time priority below the clock thread's when the heavy work
        happens in a worker process: the thread then only waits on a pipe and unpacks bars, and a
        preempted thread of normal priority holding the interpreter lock would keep a real-time
        clock thread waiting (priority inversion).
    due : seconds from now until bar ``index`` is wanted (its start, or the next beat of the bar playing with
        ``include_current``), None where not known (no bar playing yet, a render). A bar wanted sooner than the
        runtime makes one is made in the time left (an infill model: a shorter window, fewer passes), so a
        chord played just before a bar line is heard from that line.
    played : steps of bar ``index`` played by its next beat; a bar remade while it plays (``include_current``)
        keeps them, and an infill model makes the rest of the bar to follow what was played.
    """

    def __init__(self, runtime: Runtime, *, mood_now: MoodSource, lookahead: int = 2, background: bool = True,
                 morph_bars: int = 0, include_current: bool = False,
                 priority: Callable[[], object] | None = None, due: Due | None = None,
                 played: Played | None = None) -> None:
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1 bar, got {lookahead}")
        self.runtime = runtime
        self.mood_now = mood_now
        self.lookahead = lookahead
        self.background = background
        self.morph_bars = morph_bars
        self.include_current = include_current
        self.priority = priority or _normal_priority
        self.due = due
        self.played = played
        self.cancelled = 0  # bars abandoned half-made because the player's steer changed
        self.error: BaseException | None = None
        self._bars: dict[int, Bar] = {}
        self._playhead = -1
        self._morph: Morph | None = None
        self._made_at: dict[int, float] = {}  # when each bar ahead was last generated (monotonic s)
        self.idle_wait = 0.25  # seconds the worker sleeps with nothing to do (a player's notes need a shorter one)
        self.steered_by_time = False  # the mood may change with no message (a chord settling, a phrase ending)
        self._wakes = 0  # messages that may have changed the mood (wake)
        self._retry = self.idle_wait
        self._last_mood: Mood | None = None  # mood of the last bar taken
        self._taken: deque[Bar] = deque(maxlen=FREEZE_BARS)  # the last bars taken: what a freeze repeats
        self._frozen: tuple[int, list[Bar]] | None = None  # (first bar of the repeats, the phrase repeated)
        self._thaw = False
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

    def freeze(self, on: bool) -> None:
        """Freeze: from the next bar line the last phrase taken repeats exactly, on the bar grid, and nothing is
        generated; thawing goes on from where the music was (the bars made after the phrase, then onwards)."""
        with self._cond:
            if on and self._frozen is None and self._taken:
                self._frozen = (self._playhead + 1, list(self._taken))
                self._thaw = False
            elif not on and self._frozen is not None:
                self._thaw = True
            self._cond.notify_all()

    @property
    def frozen(self) -> bool:
        return self._frozen is not None and not self._thaw

    def _repeat(self, index: int) -> Bar | None:
        """While frozen, bar ``index`` is a copy of the frozen phrase's; on a thaw the bars ahead move to ``index``."""
        start, loop = self._frozen
        if index < start:
            return None
        if not self._thaw:
            return loop[(index - start) % len(loop)].moved(index)
        offset = index - start
        self._bars = {i + offset: b.moved(i + offset) for i, b in self._bars.items() if i >= start}
        self._made_at = {i + offset: t for i, t in self._made_at.items() if i >= start}
        self.runtime.shift(start - 1, offset)
        self._frozen, self._thaw = None, False
        return None

    def take(self, index: int) -> Bar | None:
        """The latest version of bar ``index`` (None if not ready); moves the playhead to it.

        Taking a bar again (at each beat, with ``include_current``) returns its newest version.
        """
        with self._cond:
            if self._frozen is not None:
                copy = self._repeat(index)
                if copy is not None:
                    self._playhead = index
                    self._taken_bar(copy)
                    return copy
        if not self.background and self.error is None:
            again = index == self._playhead
            if not again:
                self._playhead = index - 1
            try:
                self._fill(include_playhead=again and self.include_current)
            except Exception as exc:  # raised below, as the worker's errors are
                self.error = exc
        with self._cond:
            if self.error is not None:
                raise RuntimeError(f"generation failed: {self.error!r}") from self.error
            for old in [i for i in self._bars if i < index]:
                del self._bars[old]
            self._playhead = index
            bar = self._bars.get(index)
            if bar is not None:
                self._taken_bar(bar)
            self._cond.notify_all()
        return bar

    def upcoming(self, index: int) -> Bar | None:
        """Bar ``index`` as it stands now, without taking it: the sequencer looks at the next bar's ties before the
        line. None where it is not made yet, or comes when a freeze thaws. ``background=False``: the bars due are
        made first, as :meth:`take` would make them, with the playhead where it is."""
        if not self.background and self.error is None:
            try:
                self._fill(include_playhead=False)
            except Exception as exc:  # raised at the next take, as the worker's errors are
                self.error = exc
        # No lock: the clock thread looks just after take() woke the worker thread, which may hold it; a dict lookup
        # and the reads of one field each are atomic, and only take() (the clock thread itself) freezes or thaws.
        frozen = self._frozen
        if frozen is not None and index >= frozen[0]:
            start, loop = frozen
            return None if self._thaw else loop[(index - start) % len(loop)].moved(index)
        return self._bars.get(index)

    def _taken_bar(self, bar: Bar) -> None:
        self._last_mood = bar.mood
        if not self._frozen and (not self._taken or self._taken[-1].index != bar.index):
            self._taken.append(bar)

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
            self._wakes += 1
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop the worker thread and release the runtime (a worker process is stopped too)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self.runtime.close()  # a thread waiting on a worker process gets its answer (or EOF) now
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    # -- the worker -----------------------------------------------------------------------
    def _work(self) -> None:
        name_os_thread()
        # Normal priority unless told otherwise: a lowered (niced) worker that is descheduled
        # while it holds the GIL would keep the clock thread waiting for it, and a real-time one
        # doing the model's work (inherited by accident) could starve a non-real-time JACK server.
        # The first bar may be made in this thread (an infill model's, while its worker process starts): at normal
        # priority; the priority asked for is taken once it is made, when this thread only waits on the worker.
        _normal_priority()
        prioritized = False
        try:
            while True:
                with self._cond:
                    job = self._next_job()
                    while job is None and not self._stopped:
                        self._cond.wait(self._retry)
                        job = self._next_job()
                    if self._stopped:
                        return
                self._make(*job)
                if not prioritized:
                    self.priority()
                    prioritized = True
        except BaseException as exc:  # handed to the clock thread, which releases notes and stops
            with self._cond:
                if self._stopped:
                    return  # stopping closed the runtime under a generation: nothing is wanted from it
                log.debug("composer failed", exc_info=True)
                self.error = exc
                self._cond.notify_all()

    def _fill(self, include_playhead: bool = True) -> None:
        """Generate every bar due now, in the caller's thread (``background=False``)."""
        while (job := self._next_job(include_playhead)) is not None:
            self._make(*job)

    def _next_job(self, include_playhead: bool | None = None) -> tuple[int, Morph] | None:
        """The first bar ahead that is missing or made in an older mood, with the morph to make it in.

        In the background, a bar is remade at most every ``REMAKE_INTERVAL`` seconds, so a
        flood of knob moves costs a few generations per bar, not one per message.
        """
        if self._frozen is not None and not self._thaw:
            return None  # frozen: the phrase repeats, nothing new is wanted
        version, mood = self.mood_now()
        current = self.include_current if include_playhead is None else include_playhead
        first = self._playhead if current and self._playhead >= 0 else self._playhead + 1
        now = time.monotonic()
        self._retry = self.idle_wait
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

    def _abandon(self, steer: tuple, wakes: int) -> bool:
        """Whether the bar being made for ``steer`` is no longer wanted (asked every few ms while it is made: the mood
        is resolved again only when a message came in since, or when time alone may change it)."""
        if self._stopped:
            return True
        if self._wakes == wakes and not self.steered_by_time:
            return False
        return steer_of(self.mood_now()[1]) != steer

    def _make(self, index: int, morph: Morph) -> None:
        """Have the runtime make bar ``index`` and keep what is still wanted.

        Live, the runtime is told the time left until the bar is wanted, and asked between its steps whether to
        go on: a bar made for a chord the player no longer holds (or a phrase, or an idea) is abandoned, and the
        worker goes on with the bar the new steer needs first.
        """
        budget, stop, keep = None, None, 0
        if self.include_current and index == self._playhead and self.played is not None:
            keep = self.played(index)
        if self.background:
            left = self.due(index) if self.due is not None else None
            budget = None if left is None else max(0.0, left - HANDOVER)
            steer, wakes = steer_of(morph.target), self._wakes
            # A player's chord settles with no message: asked every 20 ms then; otherwise only a message changes
            # the steer (a new idea), and four looks a second keep the waiting thread's cost low (0.25 s).
            stop = StopWhen(lambda: self._abandon(steer, wakes), 0.02 if self.steered_by_time else 0.25)
        try:
            made = self.runtime.make(index, morph, budget=budget, stop=stop, keep=keep)
        except Cancelled:
            self.cancelled += 1
            log.debug("bar %d abandoned: the player's steer changed", index + 1)
            return
        with self._cond:
            low = self._playhead if self.include_current else self._playhead + 1
            kept = self.runtime.keep(self._bars, made, low)
            at = time.monotonic()
            self._made_at = {i: self._made_at.get(i, at) for i in self._bars} | {i: at for i in kept}
            self._cond.notify_all()
        first = made.bars[index]
        log.debug("generated bars %d-%d in %.1f ms (%s)", index + 1, max(made.bars) + 1, first.gen_seconds * 1e3,
                  first.mood.describe())


def make_composer(generator: Generator, *, mood_now: MoodSource, seed: int | None = None, latent_step: float = 0.35,
                  threshold: float | None = None, guide: int = 1, lookahead: int = 2, morph_bars: int = 0,
                  include_current: bool = False, background: bool = True, walk: Walk | None = None,
                  opening: StepContext | VoiceContext | None = None, worker: WorkerSpec | None = None,
                  priority: Callable[[], object] | None = None, due: Due | None = None,
                  played: Played | None = None) -> Composer:
    """The composer ``livegan run`` and ``livegan render`` both use, wired from their options.

    walk : latents per phrase (default: a :class:`~livegan.generation.latent.LatentWalk` from ``seed``).
    guide : candidates per phrase for mood guidance (:mod:`livegan.generation.guide`); 1 = off.
    opening : a step or infill model's context before bar 0 (a clip it listened to).
    worker : make the bars in a worker process that loads the model this way
        (:class:`~livegan.generation.worker.ProcessRuntime`; with the seeded walk only); None: in this process.
    """
    if worker is not None:
        if walk is not None or opening is not None:
            raise ValueError("a worker process builds its own seeded walk from silence; pass no walk or opening")
        runtime: Runtime = ProcessRuntime(worker, generator, seed=seed, latent_step=latent_step,
                                          threshold=threshold, guide=guide)
    else:
        walk = walk or LatentWalk(generator.latents, seed=seed, step=latent_step)
        chooser = MoodGuide(generator.info, guide, seed=seed) if guide > 1 else None
        runtime = runtime_for(generator, walk=walk, guide=chooser, threshold=threshold, opening=opening, seed=seed)
    return Composer(runtime, mood_now=mood_now, lookahead=lookahead, background=background, morph_bars=morph_bars,
                    include_current=include_current, priority=priority, due=due, played=played)


def _normal_priority() -> None:
    """Make sure the calling thread runs under the normal scheduler (SCHED_OTHER)."""
    if hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            pass  # not permitted: the thread keeps the policy it has
