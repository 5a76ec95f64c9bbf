"""How bars are made, one strategy per model runtime (the contract's ``ModelInfo.runtime``).

A runtime turns (bar index, mood glide) into finished :class:`~livegan.generation.bar.Bar`\\ s:
latents from the walk, candidates from the guide, one model call, the candidate that fits
the mood, notes, then the performance in the bar's mood. The
:class:`~livegan.generation.composer.Composer` decides *which* bar is due and keeps what a
runtime made; it never looks at what kind of model it drives.

- :class:`PhraseRuntime`: one call makes the phrase holding the bar, in every mood its bars
  need (candidates x distinct moods in one batch); the bars from the asked one to the
  phrase's end are kept.
- :class:`StepRuntime`: one bar per call, continuing the context the bar before left
  (the bar played, or the one planned to be); remaking a bar drops the bars after it.
- :class:`~livegan.generation.infill.InfillRuntime` (in :mod:`livegan.generation.infill`): one bar
  per call, sampled (Gibbs) given the voices of the bars before it; kept like a step model's bars.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from livegan.generation.bar import Bar, Generator, Morph, PhraseGenerator, StepGenerator
from livegan.generation.guide import MoodGuide
from livegan.generation.latent import Walk
from livegan.model.contract import ModelInfo, decode_voices
from livegan.model.engine import StepContext
from livegan.music.perform import perform_notes, phrase_notes, split_bars, threshold_for, tied_notes

if TYPE_CHECKING:
    from livegan.generation.infill import VoiceContext


Stop = Callable[[], bool]  # () -> True when the bar being made is no longer wanted


@dataclass(frozen=True)
class StopWhen:
    """A :data:`Stop` that also says how often it is worth asking (``every`` seconds) where asking means waking a
    thread that waits on another process (:class:`~livegan.generation.worker.ProcessRuntime`); between the passes
    of a bar made in this process it is asked at each pass."""

    ask: Callable[[], bool]
    every: float = 0.02

    def __call__(self) -> bool:
        return self.ask()


@dataclass(frozen=True)
class Made:
    """What one generation made: bars by index, and (step models) the context after each."""

    bars: dict[int, Bar]
    contexts: dict[int, StepContext]


class Runtime(Protocol):
    """A composing strategy. ``make`` may take long (the model call); ``keep`` runs under the composer's lock.

    A runtime made in this process runs here; :class:`~livegan.generation.worker.ProcessRuntime`
    runs the same strategy in a worker process.
    """

    def make(self, index: int, morph: Morph, budget: float | None = None, stop: Stop | None = None,
             keep: int = 0) -> Made:
        """Generate bar ``index`` (and what comes with it) in the glide ``morph``.

        budget : seconds until the bar is wanted (None: no hurry); a runtime that can make a bar faster
            (fewer steps) does so when its usual way would not fit; the others ignore it.
        stop : asked between a runtime's steps; True abandons the bar (raises
            :class:`~livegan.generation.bar.Cancelled`); a runtime of one step never asks.
        keep : steps of the bar already played (a bar remade while it plays, ``--switch beat``): a runtime
            that can fill in around given notes keeps them as they were and makes the rest; the others remake it all.
        """
        ...

    def keep(self, bars: dict[int, Bar], made: Made, low: int) -> list[int]:
        """Store ``made`` into ``bars`` (bars before ``low`` are no longer wanted); returns the indices stored."""
        ...

    def close(self) -> None:
        """Release what the runtime holds (a worker process); the composer calls it when it stops."""
        ...

    def shift(self, after: int, offset: int) -> None:
        """The bars after bar ``after`` now play ``offset`` bars later (a freeze repeated a phrase in between)."""
        ...


def keep_phrase(bars: dict[int, Bar], made: Made, low: int) -> list[int]:
    """A phrase model's keep: every bar made from ``low`` on."""
    kept = [i for i in made.bars if i >= low]
    bars.update({i: made.bars[i] for i in kept})
    return kept


class StepContexts:
    """A step model's context after each bar kept: what the next bar continues.

    opening : the context before bar 0 (silence, or a clip the model listened to).
    """

    def __init__(self, opening: StepContext | VoiceContext) -> None:
        self.opening = opening
        self._after: dict[int, StepContext | VoiceContext] = {}
        self._lock = threading.Lock()  # read by make (worker thread), written by keep (under the composer's lock)

    def before(self, index: int) -> StepContext | VoiceContext:
        """The context bar ``index`` continues: the one after bar ``index - 1``, else the opening."""
        with self._lock:
            return self._after.get(index - 1, self.opening)

    def after(self, index: int) -> StepContext | VoiceContext | None:
        """The context after bar ``index`` as it was kept (None if it was not)."""
        with self._lock:
            return self._after.get(index)

    def shift(self, after: int, offset: int) -> None:
        """The contexts after bar ``after`` and later belong ``offset`` bars later."""
        with self._lock:
            self._after = {(i + offset if i >= after else i): c for i, c in self._after.items()}

    def keep(self, bars: dict[int, Bar], made: Made, low: int) -> list[int]:
        """Keep a step model's bar; the bars after it continued its old version and are dropped."""
        (index, bar), = made.bars.items()
        if index < low:
            return []
        for later in [i for i in bars if i > index]:
            del bars[later]
        bars[index] = bar
        with self._lock:
            self._after = {i: c for i, c in self._after.items() if low - 1 <= i < index}
            self._after[index] = made.contexts[index]
        return [index]


class PhraseRuntime:
    """Bars from a phrase model: the phrase holding the bar, generated in every mood it needs."""

    opening: StepContext | None = None  # a phrase model starts from its latent, not a context

    def __init__(self, generator: PhraseGenerator, *, walk: Walk, guide: MoodGuide | None,
                 threshold: float | None) -> None:
        self.generator = generator
        self.info: ModelInfo = generator.info
        self.walk = walk
        self.guide = guide
        self.threshold = threshold

    def make(self, index: int, morph: Morph, budget: float | None = None, stop: Stop | None = None,
             keep: int = 0) -> Made:
        info = self.info
        phrase, first = divmod(index, info.bars)
        indices = range(index, (phrase + 1) * info.bars)
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
        notes_of = {}
        for d, key in enumerate(distinct):
            threshold = threshold_for(info, by_key[key], self.threshold)
            active = decode_voices(probs[:, d], probs[:, d] > threshold, info.tracks)  # [candidates, T, B, S, P], once
            pick = self.guide.choose(active, *key[0]) if self.guide is not None else 0
            notes_of[key] = split_bars(phrase_notes(probs[pick, d], info, active=active[pick]), info, first)
        seconds = time.perf_counter() - started
        bars = {}
        for i, m in zip(indices, moods):
            score = notes_of[(m.point, m.density)][i - index]
            bars[i] = Bar(i, perform_notes(score, info, m, i), m, morph.version, seconds, tuple(score))
        return Made(bars, {})

    def keep(self, bars: dict[int, Bar], made: Made, low: int) -> list[int]:
        return keep_phrase(bars, made, low)

    def close(self) -> None:
        pass

    def shift(self, after: int, offset: int) -> None:
        pass  # a phrase's bars carry no context


class StepRuntime:
    """Bars from a step model, each continuing the bar before it.

    The walk gives each bar its sampling noise; with guidance, the candidates are
    different noises from the same context. ``opening`` is the context before bar 0
    (default: silence; a clip the model listened to, to continue it).
    """

    def __init__(self, generator: StepGenerator, *, walk: Walk, guide: MoodGuide | None, threshold: float | None,
                 opening: StepContext | None = None) -> None:
        self.generator = generator
        self.info: ModelInfo = generator.info
        self.walk = walk
        self.guide = guide
        self.threshold = threshold
        self.contexts = StepContexts(opening if opening is not None else generator.start(1))
        self._bar_info = replace(self.info, bars=1)

    @property
    def opening(self) -> StepContext:
        return self.contexts.opening

    def make(self, index: int, morph: Morph, budget: float | None = None, stop: Stop | None = None,
             keep: int = 0) -> Made:
        return self.make_after(index, morph, self.contexts.before(index))

    def make_after(self, index: int, morph: Morph, context: StepContext, budget: float | None = None,
                   stop: Stop | None = None) -> Made:
        """Bar ``index`` continuing ``context`` (pure: the same arguments make the same bar)."""
        mood = morph.at(index)
        started = time.perf_counter()
        latents = self.walk.phrase(index)
        if self.guide is not None:
            latents = self.guide.latents(latents, index)
        n = len(next(iter(latents.values())))
        points = np.tile(np.array([mood.point], dtype=np.float32), (n, 1))
        probs, after = self.generator.continue_bars(latents, points, context.repeat(n), bars=1)
        threshold = threshold_for(self.info, mood, self.threshold)
        active = probs > threshold
        pick = self.guide.choose(active, *mood.point) if self.guide is not None else 0
        notes = phrase_notes(probs[pick], self._bar_info, active=active[pick])
        held = {(int(t), self.info.lowest_pitch + int(p)) for t, p in zip(*np.nonzero(context.frame[0] > 0.5))}
        bar = Bar(index, perform_notes(notes, self.info, mood, index), mood, morph.version, time.perf_counter() - started,
                  tuple(notes), tied_notes(notes, held, self.info))  # a roll holds a note that sounds on over the bar line
        return Made({index: bar}, {index: after.row(pick)})

    def keep(self, bars: dict[int, Bar], made: Made, low: int) -> list[int]:
        return self.contexts.keep(bars, made, low)

    def close(self) -> None:
        pass

    def shift(self, after: int, offset: int) -> None:
        self.contexts.shift(after, offset)


def runtime_for(generator: Generator, *, walk: Walk, guide: MoodGuide | None = None, threshold: float | None = None,
                opening: StepContext | VoiceContext | None = None, seed: int | None = None) -> Runtime:
    """The strategy the model's contract declares (``info.runtime``: ``"phrase"``, ``"step"`` or ``"infill"``)."""
    runtime = generator.info.runtime
    if runtime == "step":
        return StepRuntime(generator, walk=walk, guide=guide, threshold=threshold, opening=opening)
    if runtime == "infill":
        from livegan.generation.infill import InfillRuntime

        return InfillRuntime(generator, seed=seed, guide=guide, opening=opening)
    if opening is not None:
        raise ValueError("an opening context continues a step model; a phrase model starts from its latent")
    if runtime == "phrase":
        return PhraseRuntime(generator, walk=walk, guide=guide, threshold=threshold)
    raise ValueError(f"no runtime for {runtime!r} models")
