"""Offline rendering: a whole piece through the daemon's own path, as fast as the model runs.

``livegan render`` builds what ``livegan run`` builds, with fake parts where time would pass:

1. The same :class:`~livegan.generation.composer.Composer` (:func:`~livegan.generation.composer.make_composer`,
   the same walk, guidance, morphs and runtimes), working inside each ``take`` (``background=False``).
2. Moods come from a schedule such as ``uplifting:8,bittersweet:8``, asked for as a player
   would switch presets: segment k's mood from the moment its first bar is taken. A change
   glides over ``morph_bars`` bars, as the daemon's :class:`~livegan.generation.bar.Morph` does.
3. The daemon's :class:`~livegan.timing.sequencer.Sequencer` plays the bars through a
   :class:`~livegan.ports.tracker.NoteTracker` on an :class:`~livegan.timing.transport.InternalTransport`
   driven by a :class:`~livegan.timing.clock.FakeClock`: no time passes, and the messages are
   stamped with the second at which the daemon would send them.

So ``livegan render --seed S`` writes the notes ``livegan run --seed S --record`` plays with the
same options (``tests/test_render_jack.py`` checks it over JACK). The same seed, schedule,
tempo and model give the same file, byte for byte.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import mido
import numpy as np

from livegan.errors import UserError
from livegan.generation.bar import Bar, Generator
from livegan.generation.composer import Composer, make_composer
from livegan.generation.latent import Walk
from livegan.model.contract import ModelInfo
from livegan.model.engine import StepContext
from livegan.mood.presets import Mood, find_mood
from livegan.music.chords import Chord
from livegan.music.smf import Layout, smf_bytes
from livegan.ports.memory import MemoryOutput
from livegan.ports.tracker import NoteTracker
from livegan.timing.clock import FakeClock
from livegan.timing.sequencer import Sequencer
from livegan.timing.transport import InternalTransport

log = logging.getLogger(__name__)

DEFAULT_BARS = 16


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


class MoodSchedule:
    """The moods of a render, asked for as a player switches presets during a live run.

    Before the sequencer takes bar k, :meth:`reach` moves to the segment holding it; the
    composer's ``mood_now`` then returns (version, its mood), so a new segment is a new mood
    version, heard from its first bar (gliding, with ``morph_bars``).

    ``chords`` (one per bar, repeating; None: the model chooses) are held as a player holds
    them with ``livegan run --follow chords``: bar k's chord from the moment bar k is taken, a
    change being a new version too. ``melody`` (start step, end step, MIDI pitch from bar 0) is
    the soprano the other voices harmonize, as ``livegan run --follow melody`` echoes a phrase.
    """

    def __init__(self, segments: Sequence[Segment], chords: Sequence[Chord | None] = (),
                 melody: Sequence[tuple[int, int, int]] = ()) -> None:
        self.segments = list(segments)
        self.given = tuple((0, a, b, p) for a, b, p in melody)  # the soprano, from bar 0
        self.ends = list(np.cumsum([s.bars or 0 for s in self.segments]))
        self.chords = list(chords)
        self._segment = 0
        self._chord: Chord | None = None
        self._version = 0

    def reach(self, index: int) -> None:
        """Bar ``index`` is about to be taken."""
        segment = next((k for k, end in enumerate(self.ends[:-1]) if index < end), len(self.segments) - 1)
        chord = self.chords[index % len(self.chords)] if self.chords else None
        if (segment, chord) != (self._segment, self._chord):
            self._version += 1
        self._segment, self._chord = segment, chord

    def mood_now(self) -> tuple[int, Mood]:
        mood = self.segments[self._segment].mood
        if self._chord is not None:
            mood = mood.harmonized(self._chord.pitch_classes, self._chord.bass)
        if self.given:
            mood = replace(mood, given=self.given)
        return self._version, mood


class _Scheduled:
    """The sequencer's bar source in a render: moves the schedule, then takes from the composer; keeps the bars."""

    def __init__(self, composer: Composer, schedule: MoodSchedule) -> None:
        self.composer = composer
        self.schedule = schedule
        self.taken: list[Bar] = []
        self.seconds = 0.0  # in the composer: making the bars (the model calls, then the notes)

    def take(self, index: int) -> Bar | None:
        self.schedule.reach(index)
        started = time.perf_counter()
        bar = self.composer.take(index)
        self.seconds += time.perf_counter() - started
        if bar is not None:
            self.taken.append(bar)
        return bar

    def upcoming(self, index: int) -> Bar | None:
        """Bar ``index`` as it will be taken: in the schedule's mood and chord for it (made now if they change)."""
        self.schedule.reach(index)
        started = time.perf_counter()
        bar = self.composer.upcoming(index)
        self.seconds += time.perf_counter() - started
        return bar

    def relocate(self, index: int) -> None:
        self.composer.relocate(index)


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


def render_piece(generator: Generator, segments: Sequence[Segment], bars: int, seed: int | None, *, bpm: float = 120.0,
                 threshold: float | None = None, guide: int = 1, morph_bars: int = 0, lookahead: int = 2,
                 latent_step: float = 0.35, title: str = "LiveGAN", walk: Walk | None = None,
                 opening: StepContext | None = None, chords: Sequence[Chord | None] = (),
                 melody: Sequence[tuple[int, int, int]] = ()) -> Piece:
    """Compose and play ``bars`` bars of the schedule ``segments``; see the module docstring for the path.

    The options mean what ``livegan run``'s do (``guide``: candidates per phrase, 1 = off;
    ``walk``: latents instead of the seeded walk, e.g. variations of a clip; ``opening``: a
    step model's context before bar 0; ``chords``: one per bar, repeating, held as ``--follow chords`` holds them).
    """
    if bars < 1:
        raise ValueError("a piece needs at least one bar")
    timed = _Timed(generator)
    if (chords or melody) and generator.info.runtime != "infill":
        raise UserError(f"following {'chords' if chords else 'a melody'} needs an infill model (the default); this one is "
                        f"a {generator.info.runtime} model ({generator.info.architecture})")
    schedule = MoodSchedule(segments, chords, melody)
    composer = make_composer(timed, mood_now=schedule.mood_now, seed=seed, latent_step=latent_step, threshold=threshold,
                             guide=guide, lookahead=lookahead, morph_bars=morph_bars, background=False, walk=walk,
                             opening=opening)
    source = _Scheduled(composer, schedule)
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    transport = InternalTransport(clock, bpm, generator.info.steps_per_beat, t0=0.0)
    sequencer = Sequencer(source, tracker=NoteTracker(port), transport=transport, info=generator.info)
    started = time.perf_counter()
    with _quiet("livegan.timing.sequencer"):
        sequencer.play(bars)
    took = time.perf_counter() - started
    return Piece(generator.info, bpm, seed, tuple(b.mood for b in source.taken), tuple(source.taken), tuple(port.sent),
                 timed.seconds, source.seconds, max(0.0, took - source.seconds), timed.calls, title)


class _Timed:
    """A generator that counts its calls and the seconds they take (either runtime's calls)."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.info, self.latents = generator.info, generator.latents
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

    @property
    def iterations(self) -> int:
        return self.generator.iterations

    @property
    def temperature(self) -> float:
        return self.generator.temperature

    def predict(self, notes: np.ndarray, mask: np.ndarray, meter: np.ndarray, mood: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.generator.predict(notes, mask, meter, mood)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1
