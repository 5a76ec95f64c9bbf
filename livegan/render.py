"""Offline rendering: a whole piece through the daemon's own path, as fast as the model runs.

1. Moods per bar come from a schedule such as ``uplifting:8,bittersweet:8``; a change
   glides over ``morph_bars`` bars exactly as the daemon's :class:`~livegan.composer.Morph`.
2. Latents come from a :class:`~livegan.latent.LatentWalk` seeded with ``seed``; every
   (phrase, mood) the piece needs is generated in batches of ``batch`` per model call.
3. Each bar is made as the :class:`~livegan.composer.Composer` makes it: ``phrase_notes``
   at the mood's threshold, ``split_bars``, ``perform_notes`` in the bar's mood.
4. The daemon's :class:`~livegan.sequencer.Sequencer` then plays the bars through a
   :class:`~livegan.tracker.NoteTracker` on an :class:`~livegan.transport.InternalTransport`
   driven by a :class:`~livegan.clock.FakeClock`: no time passes, and the messages are
   the ones the daemon would send (program changes at mood changes, retriggers,
   releases at the end), stamped with the second at which it would send them.

The same seed, schedule, tempo, batch size and model give the same messages, byte for byte.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

import mido
import numpy as np

from livegan.clock import FakeClock
from livegan.composer import Bar, Generator, Morph
from livegan.contract import ModelInfo
from livegan.engine import StepContext
from livegan.errors import UserError
from livegan.latent import LatentWalk
from livegan.midifile import Layout, smf_bytes
from livegan.mood import Mood, find_mood
from livegan.perform import perform_notes, phrase_notes, split_bars, threshold_for
from livegan.ports import MemoryOutput
from livegan.sequencer import Sequencer
from livegan.tracker import NoteTracker
from livegan.transport import InternalTransport

log = logging.getLogger(__name__)

DEFAULT_BARS = 16


class Walk(Protocol):
    """Latents per phrase: a :class:`~livegan.latent.LatentWalk` or a :class:`~livegan.latent.VariationWalk`."""

    def phrase(self, index: int) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class Segment:
    """A stretch of a schedule: ``mood`` for ``bars`` bars (None: until the end of the piece)."""

    mood: Mood
    bars: int | None = None


def parse_schedule(text: str, presets: list[Mood]) -> list[Segment]:
    """``"uplifting"`` or ``"uplifting:8,bittersweet:8"`` -> segments; only the last may omit its bars."""
    segments: list[Segment] = []
    parts = [p.strip() for p in text.split(",")]
    for i, part in enumerate(parts):
        name, sep, count = part.partition(":")
        if not name.strip():
            raise UserError(f"--mood '{text}': empty mood name; write NAME or NAME:BARS,NAME:BARS")
        bars = None
        if sep:
            if not count.strip().isdigit() or int(count) < 1:
                raise UserError(f"--mood '{text}': '{part}' needs a whole number of bars >= 1 after ':'")
            bars = int(count)
        elif i < len(parts) - 1:
            raise UserError(f"--mood '{text}': '{part}' needs its length in bars (e.g. {part}:8); only the last mood may omit it")
        segments.append(Segment(find_mood(presets, name.strip()), bars))
    return segments


def custom_mood(presets: list[Mood], valence: float, arousal: float) -> Mood:
    """The point (valence, arousal), played in the style of the nearest preset."""
    nearest = min(presets, key=lambda m: (m.valence - valence) ** 2 + (m.arousal - arousal) ** 2)
    return nearest.at(valence, arousal)


def schedule_length(segments: Sequence[Segment], bars: int | None) -> int:
    """How many bars a piece has: ``bars``, else the schedule's total, else :data:`DEFAULT_BARS`."""
    total = sum(s.bars or 0 for s in segments)
    if bars is None:
        return total if segments[-1].bars is not None else max(total + 1, DEFAULT_BARS)
    if total > bars or (total == bars and segments[-1].bars is None):
        raise UserError(f"the mood schedule needs {total + (segments[-1].bars is None)} bars or more, but --bars is {bars}: "
                        "raise --bars or shorten the schedule")
    return bars


def bar_moods(segments: Sequence[Segment], bars: int, morph_bars: int = 0) -> list[Mood]:
    """The mood of each of ``bars`` bars; the last segment lasts to the end.

    Each change glides from the mood of the bar before over ``morph_bars`` bars (0: it
    switches at the bar line), as a mood change does in the daemon.
    """
    moods: list[Mood] = []
    for k, segment in enumerate(segments):
        length = bars - len(moods) if k == len(segments) - 1 else segment.bars
        start = len(moods)
        morph = Morph(0, moods[-1] if moods else segment.mood, segment.mood, start, morph_bars if moods else 0)
        moods.extend(morph.at(i) for i in range(start, start + length))
    return moods[:bars]


@dataclass(frozen=True)
class Piece:
    """A rendered piece: its bars as the composer made them and the messages the daemon would send.

    messages : (seconds from bar 1's start, message), in send order.
    model_seconds : wall time in the model's calls; gen_seconds : making the bars (the model
        calls, then the notes); play_seconds : in the sequencer.
    """

    info: ModelInfo
    bpm: float
    seed: int | None
    moods: tuple[Mood, ...]
    bars: tuple[Bar, ...]
    messages: tuple[tuple[float, mido.Message], ...]
    model_seconds: float = 0.0
    gen_seconds: float = 0.0
    play_seconds: float = 0.0
    calls: int = 0
    title: str = "LiveGAN"

    @property
    def bar_seconds(self) -> float:
        return self.info.beats_per_bar * 60.0 / self.bpm

    @property
    def seconds(self) -> float:
        """Length of the piece: its bars, end to end."""
        return len(self.bars) * self.bar_seconds

    def changes(self) -> list[tuple[int, Mood]]:
        """(bar index, mood) where the mood differs from the bar before, starting with bar 0."""
        return [(i, m) for i, m in enumerate(self.moods) if i == 0 or m != self.moods[i - 1]]

    def layout(self) -> Layout:
        return Layout.for_model(self.info, self.bpm, self.title)

    def to_smf(self) -> bytes:
        """A type-1 standard MIDI file: tempo, meter, one named track per model track, mood markers."""
        markers = [(i * self.bar_seconds, f"bar {i + 1}: {m.describe()}") for i, m in self.changes()]
        return smf_bytes(self.messages, self.layout(), self.seconds, markers)


def compose_bars(generator: Generator, moods: Sequence[Mood], seed: int | None, threshold: float | None = None,
                 latent_step: float = 0.35, batch: int = 64, walk: Walk | None = None,
                 opening: StepContext | None = None) -> list[Bar]:
    """Bar ``i`` in ``moods[i]``, for every bar of the piece, generated ``batch`` phrases per call.

    Each (phrase, mood point and density) is generated once, with the phrase's latent,
    and each bar is taken from its mood's generation, as the daemon's composer does.
    ``walk`` replaces the seeded latent walk (e.g. variations of a clip). A step model
    is played bar by bar from ``opening`` (default: silence), each bar continuing the last.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1 phrase, got {batch}")
    info = generator.info
    walk = walk or LatentWalk(generator.latents, seed=seed, step=latent_step)
    if getattr(generator, "stateful", False):
        return _compose_steps(generator, moods, walk, threshold, opening)
    keys = [(i // info.bars, (m.point, m.density)) for i, m in enumerate(moods)]
    items = list(dict.fromkeys(keys))  # (phrase, mood key) in the order the piece needs them
    mood_of = {key: moods[i] for i, key in reversed(list(enumerate(keys)))}
    started = time.perf_counter()
    notes = {}
    for low in range(0, len(items), batch):
        chunk = items[low:low + batch]
        latents = {s.name: np.concatenate([walk.phrase(p)[s.name] for p, _ in chunk]) for s in generator.latents}
        probs = generator.generate(latents, np.array([point for _, (point, _) in chunk], dtype=np.float32))
        for item, roll in zip(chunk, probs):
            mood = mood_of[item]
            notes[item] = split_bars(phrase_notes(roll, info, threshold_for(info, mood, threshold)), info)
    per_bar = (time.perf_counter() - started) / max(1, len(moods))
    return [Bar(i, perform_notes(notes[key][i % info.bars], info, mood, i), mood, 0, per_bar)
            for i, (key, mood) in enumerate(zip(keys, moods))]


def _compose_steps(generator, moods: Sequence[Mood], walk: Walk, threshold: float | None,
                   opening: StepContext | None) -> list[Bar]:
    """A step model's bars, one after the other, as the composer makes them live (bar i's latent is walk entry i)."""
    info = generator.info
    bar_info = replace(info, bars=1)
    context = opening or generator.start(1)
    bars = []
    for i, mood in enumerate(moods):
        started = time.perf_counter()
        probs, context = generator.continue_bars(walk.phrase(i), np.array([mood.point], dtype=np.float32), context, bars=1)
        notes = phrase_notes(probs[0], bar_info, threshold_for(info, mood, threshold))
        bars.append(Bar(i, perform_notes(notes, info, mood, i), mood, 0, time.perf_counter() - started))
    return bars


class _Bars:
    """The composer's side of the sequencer, for bars made beforehand."""

    def __init__(self, bars: Sequence[Bar]) -> None:
        self.bars = bars

    def take(self, index: int) -> Bar | None:
        return self.bars[index] if 0 <= index < len(self.bars) else None

    def relocate(self, index: int) -> None:
        pass


def play_offline(bars: Sequence[Bar], info: ModelInfo, bpm: float) -> list[tuple[float, mido.Message]]:
    """What the daemon's sequencer sends for ``bars`` at ``bpm``: (seconds from bar 1, message), at once."""
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    transport = InternalTransport(clock, bpm, info.steps_per_beat, t0=0.0)
    with _quiet("livegan.sequencer"):
        Sequencer(_Bars(bars), NoteTracker(port), transport, info).play(len(bars))
    return port.sent


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Hide a logger's per-bar INFO lines (mood changes) unless debugging."""
    logger = logging.getLogger(name)
    level = logger.level
    if not logger.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def render_piece(generator: Generator, moods: Sequence[Mood], seed: int | None, bpm: float = 120.0,
                 threshold: float | None = None, latent_step: float = 0.35, batch: int = 64,
                 title: str = "LiveGAN", walk: Walk | None = None, opening: StepContext | None = None) -> Piece:
    """Generate and perform ``len(moods)`` bars; see the module docstring for the path they take."""
    if not moods:
        raise ValueError("a piece needs at least one bar")
    timed = _Timed(generator)
    started = time.perf_counter()
    bars = compose_bars(timed, moods, seed, threshold, latent_step, batch, walk, opening)
    generated = time.perf_counter()
    messages = play_offline(bars, generator.info, bpm)
    return Piece(generator.info, bpm, seed, tuple(moods), tuple(bars), tuple(messages), timed.seconds,
                 generated - started, time.perf_counter() - generated, timed.calls, title)


class _Timed:
    """A generator that counts its calls and the seconds they take."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.info, self.latents = generator.info, generator.latents
        self.stateful = getattr(generator, "stateful", False)
        self.seconds, self.calls = 0.0, 0

    def start(self, n: int = 1) -> StepContext:
        return self.generator.start(n)

    def continue_bars(self, latents, mood, context=None, bars=None):
        started = time.perf_counter()
        try:
            return self.generator.continue_bars(latents, mood, context, bars)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def generate(self, latents: dict[str, np.ndarray], mood: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.generator.generate(latents, mood)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1
