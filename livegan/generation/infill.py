"""The infill runtime: each bar of an infilling model (Coconet) sampled by Gibbs, given the bars before it.

The model sees a window of ``info.bars`` bars (the bars before, as they were played; the bar to make;
the bars after it, hidden) and the mood; a player's steer (a chord held, a melody, a call, a variation)
enters as known cells and as log-odds added to the model's classes, never as rewriting of its notes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from livegan.generation.bar import Bar, InfillGenerator, Morph
from livegan.generation.guide import MoodGuide
from livegan.generation.runtimes import Made, StepContexts, Stop
from livegan.model.contract import ModelInfo
from livegan.mood.presets import Mood
from livegan.music.perform import perform_notes, tied_notes
from livegan.music.roll import Note
from livegan.music.voices import REST, held_over, meter_features, roll_of, to_classes, voices_to_notes


@dataclass(frozen=True)
class VoiceContext:
    """The voices an infill model's next bar continues: the bars just made, newest last.

    pitch : int16 [V, bars * steps_per_bar], pitch indices or :data:`~livegan.music.voices.REST`.
    onset : bool [V, bars * steps_per_bar].
    bars : how many bars it holds (0 before the first bar; at most the model's window less one).
    hidden : bool [V, bars * steps_per_bar], cells nobody played that the model must not take for rests
        (the voices a player's phrase left out, while LiveGAN listened); None: none.
    """

    pitch: np.ndarray
    onset: np.ndarray
    bars: int
    hidden: np.ndarray | None = None
    idea: int = 0

    @classmethod
    def empty(cls, voices: int, idea: int = 0) -> VoiceContext:
        return cls(np.zeros((voices, 0), np.int16), np.zeros((voices, 0), bool), 0, idea=idea)

    @property
    def unseen(self) -> np.ndarray:
        """bool [V, bars * steps_per_bar]: :attr:`hidden`, or no cell."""
        return self.hidden if self.hidden is not None else np.zeros(self.pitch.shape, bool)

    def then(self, pitch: np.ndarray, onset: np.ndarray, keep: int, hidden: np.ndarray | None = None) -> VoiceContext:
        """This context followed by one more bar, keeping the last ``keep`` bars."""
        steps = pitch.shape[1]
        bars = min(keep, self.bars + 1)
        unseen = np.concatenate([self.unseen, np.zeros(pitch.shape, bool) if hidden is None else hidden], 1)
        return VoiceContext(np.concatenate([self.pitch, pitch], 1)[:, -bars * steps:],
                            np.concatenate([self.onset, onset], 1)[:, -bars * steps:], bars,
                            unseen[:, -bars * steps:] if unseen.any() else None, self.idea)


STRENGTH = 96  # an infilled note's strength (the phrase models' onset probability x 127): velocity as the mood sets it
DENSITY_BIAS = 1.5  # log-odds added to every struck class at density +1 (taken away at -1): the density knob
CHORD_BIAS = 8.0  # log-odds added to the chord's pitch classes (struck or held): bias 6 left 2 of 64 bars under 90 % chord tones with the step-6,000 model, 8 none (min 94 %)
BASS_BIAS = 3.0  # and to the bass's pitch class in the lowest voice
AVOID_BIAS = -30.0  # a pitch the player holds: never doubled
LOOP_BIAS = 6.0  # variation 0: log-odds added to each cell's class of two bars before (a loop); fades to 0 at 0.5
RESTLESS_HEAT = 0.6  # variation 1: the sampling temperature rises by 30 %
OPENING_WINDOW = 2  # bars the model sees when making a bar with none before it: the bar and one hidden after
HURRIED_WINDOW = 2  # and a bar wanted sooner than the model's window makes one: the bar before and this one
HURRIED_PASSES = (24, 16, 12, 8, 6, 4)  # Gibbs passes tried in turn (at most the model's) when a bar is wanted soon
# Measured (benchmarks/hurry.py, 30 bars each): a first bar in a 2-bar window writes as well as in the 4-bar one (stepwise
# 79 vs 78 %, voices out of order 1 vs 1 %) in 0.33 s instead of 0.75; a bar remade over a new chord after two bars, in a
# 2-bar window with 24 passes, as well as in the 4-bar one (stepwise 64 vs 64 %, out of order 1 vs 2 %, chord tones
# 100 vs 99 %) in 0.34 s instead of 0.73; with 8 passes 58 %, 3 %, 99 % in 0.11 s; with 4, 57 %, 3 %, 99 % in 0.06 s.


def steering(info: ModelInfo, mood: Mood, context: VoiceContext | None = None) -> np.ndarray | None:
    """Log-odds [V, 1 or T, 2P + 1] a mood adds to the model's classes (density, a held chord, the player's notes,
    a loop-like variation echoing the bars two before); None: none.

    What is steered is the model's distribution, before sampling: the notes are still the model's choice.
    """
    p = info.n_pitches
    v, spb = len(info.tracks), info.steps_per_bar
    echo = context is not None and mood.variation < 0.5 and context.bars >= 2
    if not mood.density and not mood.chord and not mood.avoid and not echo:
        return None
    bias = np.zeros((v, spb if echo else 1, 2 * p + 1), np.float32)
    if echo:
        back = slice((context.bars - 2) * spb, (context.bars - 1) * spb)
        classes_back = to_classes(context.pitch[:, back], context.onset[:, back], p)
        np.put_along_axis(bias, classes_back[..., None], LOOP_BIAS * (0.5 - mood.variation) * 2, axis=-1)
    bias[:, :, :p] += DENSITY_BIAS * mood.density
    classes = (info.lowest_pitch + np.arange(p)) % 12
    if mood.chord:
        tone = np.isin(classes, mood.chord) * CHORD_BIAS
        bias[:, :, :p] += tone
        bias[:, :, p:2 * p] += tone
        if mood.bass >= 0:
            bass = (classes == mood.bass) * BASS_BIAS
            bias[-1, :, :p] += bass
            bias[-1, :, p:2 * p] += bass
    for pitch in mood.avoid:
        index = pitch - info.lowest_pitch
        if 0 <= index < p:
            bias[:, :, index] = bias[:, :, p + index] = AVOID_BIAS
    return bias


class InfillRuntime:
    """Bars from an infill model: each bar sampled by annealed blocked Gibbs given the bars before it.

    The model sees a window of ``info.bars`` bars: the bars before (up to ``info.bars - 1``,
    what was played or is planned to be), the bar to make, and, where fewer bars came before,
    the bars after it left unknown (never drawn). The meter and a fermata on beat 3 of every
    ``cadence``-th bar say where the music breathes: a cadence every two bars, as in the
    chorales. The bar's randomness comes from (seed, bar index), so a bar remade in a new
    mood draws the same numbers and a seed replays a stream. With guidance, ``guide.candidates``
    chains run in one batch and the one whose window fits the mood is played.
    """

    def __init__(self, generator: InfillGenerator, *, seed: int | None, guide: MoodGuide | None = None,
                 opening: VoiceContext | None = None, cadence: int = 2) -> None:
        self.generator = generator
        self.info: ModelInfo = generator.info
        self.seed = int(np.random.default_rng().integers(2**31)) if seed is None else seed
        self.guide = guide
        self.cadence = cadence
        self.contexts = StepContexts(opening if opening is not None else VoiceContext.empty(len(self.info.tracks)))
        self.pass_seconds: float | None = None  # seconds a Gibbs pass takes per bar of window here (measured)
        self.last_plan: tuple[int, int] = (self.info.bars, generator.iterations)  # (window, passes) of the last bar

    @property
    def opening(self) -> VoiceContext:
        return self.contexts.opening

    def make(self, index: int, morph: Morph, budget: float | None = None, stop: Stop | None = None,
             keep: int = 0) -> Made:
        return self.make_after(index, morph, self.contexts.before(index), budget, stop,
                               played_cells(self.contexts.after(index), keep, self.info.steps_per_bar))

    def plan(self, before: int, budget: float | None) -> tuple[int, int]:
        """(window bars, Gibbs passes) for a bar after ``before`` bars, wanted within ``budget`` seconds.

        The model's own (its window, its passes; a first bar :data:`OPENING_WINDOW`) unless that would not fit
        the budget; then a 2-bar window and the most passes of :data:`HURRIED_PASSES` that fit (the fewest if
        none does). Without a budget (a render) the plan depends on nothing but the bars before.
        """
        full = self.generator.iterations
        natural = min(self.info.bars, OPENING_WINDOW if before == 0 else self.info.bars)
        if budget is None:
            return natural, full
        unit = self.pass_seconds if self.pass_seconds is not None else self._measure()
        hurried = min(natural, HURRIED_WINDOW)
        plans = [(natural, full)]
        for passes in HURRIED_PASSES:
            if (hurried, min(passes, full)) not in plans:
                plans.append((hurried, min(passes, full)))
        return next((plan for plan in plans if plan[0] * plan[1] * unit <= budget), plans[-1])

    def _measure(self) -> float:
        self.pass_seconds = bar_seconds(self.generator, repeats=1) / (self.generator.iterations * self.info.bars)
        return self.pass_seconds

    def make_after(self, index: int, morph: Morph, context: VoiceContext, budget: float | None = None,
                   stop: Stop | None = None, played: tuple[np.ndarray, np.ndarray] | None = None) -> Made:
        """Bar ``index`` after ``context`` (pure: the same arguments make the same bar).

        A mood's ``given`` notes (a player's melody, a call) are known cells of their voices, in this bar
        and the bars before; in a bar the mood ``rests`` in, nothing plays and what the player played is kept as context.
        budget : seconds until the bar is wanted (:meth:`plan`); stop : asked between passes (abandons the bar).
        played : (pitch int16, onset bool) [V, k], the bar's first ``k`` steps as they were played (a bar remade
            while it plays): kept as they were, and the rest of the bar is made to follow them.
        """
        info, mood = self.info, morph.at(index)
        started = time.perf_counter()
        spb = info.steps_per_bar
        if mood.idea != context.idea:  # a new idea: this bar starts afresh
            context = VoiceContext.empty(len(info.tracks), mood.idea)
        first = (index - context.bars) * spb
        past = given_cells(mood.given, info, first, context.bars * spb)
        context = VoiceContext(np.where(past.known, past.pitch, context.pitch), np.where(past.known, past.onset, context.onset),
                               context.bars, (context.unseen | past.hidden) & ~past.known, context.idea)
        here = given_cells(mood.given, info, index * spb, spb)
        if played is not None and played[0].shape[1]:
            here = here.keeping(*played)
        if mood.rests_in(index):
            made = Bar(index, [], mood, morph.version, time.perf_counter() - started, ())
            return Made({index: made}, {index: context.then(here.pitch, here.onset, info.bars - 1, ~here.known)})
        n = self.guide.candidates if self.guide is not None else 1
        window, passes = self.last_plan = self.plan(context.bars, budget)
        pitch, onset = sample_bar(self.generator, np.repeat(context.pitch[None], n, 0), np.repeat(context.onset[None], n, 0),
                                  index, np.tile(np.array([[*mood.point, 1.0]], np.float32), (n, 1)),
                                  np.random.default_rng([self.seed, mood.idea, index]), bias=steering(info, mood, context),
                                  cadence=self.cadence, hidden=context.hidden, given=here,
                                  temperature=self.generator.temperature * (1.0 + RESTLESS_HEAT * max(0.0, mood.variation - 0.5)),
                                  iterations=passes, window=window, stop=stop)
        took = time.perf_counter() - started
        measured = took / (window * passes)
        self.pass_seconds = measured if self.pass_seconds is None else 0.7 * self.pass_seconds + 0.3 * measured
        pick = 0
        if self.guide is not None:
            heard = np.concatenate([np.repeat(context.pitch[None], n, 0), pitch], axis=2)
            heard = np.concatenate([heard, np.full((n, heard.shape[1], (info.bars - context.bars - 1) * spb), REST,
                                                   np.int16)], axis=2)
            rolls = roll_of(heard, info.n_pitches).reshape(n, heard.shape[1], info.bars, spb, info.n_pitches)
            pick = self.guide.choose(rolls, *mood.point)
        notes = [Note(x.start, x.end, x.pitch, x.track, STRENGTH)
                 for x in voices_to_notes(pitch[pick], onset[pick], info.lowest_pitch)]
        made = Bar(index, perform_notes(notes, info, mood, index), mood, morph.version, time.perf_counter() - started,
                   tuple(notes), tied_notes(notes, held_notes(context, pitch[pick], onset[pick], info), info))
        after = context.then(pitch[pick], onset[pick], keep=info.bars - 1)
        return Made({index: made}, {index: after})

    def keep(self, bars: dict[int, Bar], made: Made, low: int) -> list[int]:
        return self.contexts.keep(bars, made, low)

    def close(self) -> None:
        pass

    def shift(self, after: int, offset: int) -> None:
        self.contexts.shift(after, offset)


@dataclass(frozen=True)
class Given:
    """Cells a player fixed in a stretch of steps: pitch int16 [V, T], onset bool [V, T], known bool [V, T]
    (every cell of a voice the player played in the stretch), hidden bool [V, T] (the other voices' cells,
    where the stretch is the player's)."""

    pitch: np.ndarray
    onset: np.ndarray
    known: np.ndarray
    hidden: np.ndarray

    def keeping(self, pitch: np.ndarray, onset: np.ndarray) -> Given:
        """These cells with the first ``k`` steps of every voice fixed to ``pitch``, ``onset`` [V, k] (what was played)."""
        k = pitch.shape[1]
        known = self.known.copy()
        known[:, :k] = True
        fixed_pitch, fixed_onset = self.pitch.copy(), self.onset.copy()
        fixed_pitch[:, :k], fixed_onset[:, :k] = pitch, onset
        return Given(fixed_pitch, fixed_onset, known, self.hidden & ~known)


def held_notes(context: VoiceContext, pitch: np.ndarray, onset: np.ndarray, info: ModelInfo) -> set[tuple[int, int]]:
    """(voice, MIDI pitch) of the notes a bar (pitch, onset [V, steps]) holds on from the end of ``context``: a tie over
    the bar line. A cell nobody played (hidden) holds nothing."""
    if not context.bars:
        return set()
    before = np.where(context.unseen[:, -1], REST, context.pitch[:, -1])
    return {(int(v), info.lowest_pitch + int(pitch[v, 0])) for v in np.flatnonzero(held_over(before, pitch, onset))}


def played_cells(after: VoiceContext | None, keep: int, steps_per_bar: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The first ``keep`` steps of a bar as it was made, from the context kept after it; None: nothing to keep."""
    if not keep or after is None or after.bars == 0:
        return None
    bar = slice(after.pitch.shape[1] - steps_per_bar, after.pitch.shape[1] - steps_per_bar + min(keep, steps_per_bar))
    return after.pitch[:, bar], after.onset[:, bar]


def given_cells(given: tuple[tuple[int, int, int, int], ...], info: ModelInfo, start: int, steps: int) -> Given:
    """The cells of ``steps`` steps from ``start`` (absolute) that notes (voice, start, end, MIDI pitch) fix.

    A voice with a note in a bar is known for the whole bar (rests between its notes are the player's
    rests); where a bar holds given notes, the voices the player did not play are hidden.
    """
    v, spb = len(info.tracks), info.steps_per_bar
    pitch = np.full((v, steps), REST, np.int16)
    onset = np.zeros((v, steps), bool)
    known = np.zeros((v, steps), bool)
    touched = np.zeros(steps, bool)
    for voice, begin, end, midi in given:
        a, b = max(begin, start) - start, min(end, start + steps) - start
        if b <= a or not 0 <= voice < v:
            continue
        p = midi - info.lowest_pitch
        while p < 0:
            p += 12
        while p >= info.n_pitches:
            p -= 12
        pitch[voice, a:b] = p
        onset[voice, a:b] = False
        onset[voice, a] = begin >= start
        for bar in range(a // spb, (b - 1) // spb + 1):
            known[voice, bar * spb:(bar + 1) * spb] = True
            touched[bar * spb:(bar + 1) * spb] = True
    return Given(pitch, onset, known, touched[None, :] & ~known)


def cadence_meter(info: ModelInfo, first_bar: int, bars: int, cadence: int) -> np.ndarray:
    """Meter features [F, bars * steps_per_bar] of the bars from ``first_bar``: a fermata on beat 3 of every
    ``cadence``-th bar (0: none), where the chorales most often place theirs."""
    spb, beat = info.steps_per_bar, info.steps_per_beat
    fermatas = np.zeros(bars * spb, bool)
    for b in range(bars):
        if cadence and (first_bar + b + 1) % cadence == 0:
            fermatas[b * spb + 2 * beat:b * spb + 3 * beat] = True
    return meter_features(bars * spb, info.steps_per_beat, info.beats_per_bar, fermatas, first_bar * spb)


def sample_bar(generator: InfillGenerator, pitch: np.ndarray, onset: np.ndarray, index: int, mood: np.ndarray,
               rng: np.random.Generator, bias: np.ndarray | None = None, cadence: int = 2, hidden: np.ndarray | None = None,
               given: Given | None = None, temperature: float | None = None, iterations: int | None = None,
               window: int | None = None, stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bar ``index`` of N streams after the bars before it: (pitch int16, onset bool) [N, V, steps_per_bar].

    pitch, onset : [N, V, c * steps_per_bar], the last ``c`` bars (0 <= c < the model's window).
    mood : float32 [N, 3], (valence, arousal, known). The window is the model's: the bars before,
    this bar (drawn), and, where fewer bars came before, the bars after it, hidden.
    bias : log-odds [V, 1 or steps_per_bar, 2P + 1] added to this bar's classes (:func:`steering`), or None.
    hidden : bool [V, c * steps_per_bar], cells of the bars before that the model must not see (None: none).
    given : the bar's cells a player fixed (a melody): known, not drawn; None: none.
    iterations : Gibbs passes (default: the model's).
    window : bars the model sees, 1 .. the model's (default): a shorter window sees fewer bars before
        and after, and each pass costs less (a bar wanted soon).
    stop : asked between passes; True abandons the bar (:class:`~livegan.generation.bar.Cancelled`).
    """
    from livegan.generation.gibbs import Schedule, gibbs

    info = generator.info
    spb, window = info.steps_per_bar, min(info.bars, window or info.bars)
    keep = min(pitch.shape[2] // spb, window - 1) * spb  # the bars before that fit the window
    pitch, onset = pitch[:, :, pitch.shape[2] - keep:], onset[:, :, onset.shape[2] - keep:]
    if hidden is not None:
        hidden = hidden[:, hidden.shape[1] - keep:]
    n, v, known = pitch.shape[0], pitch.shape[1], pitch.shape[2]
    before = known // spb
    steps = window * spb
    grid_pitch = np.full((n, v, steps), REST, np.int16)
    grid_onset = np.zeros((n, v, steps), bool)
    grid_pitch[:, :, :known], grid_onset[:, :, :known] = pitch, onset
    unknown = np.zeros((n, v, steps), bool)
    unknown[:, :, known:known + spb] = True
    if given is not None:
        grid_pitch[:, :, known:known + spb] = np.where(given.known, given.pitch, REST)
        grid_onset[:, :, known:known + spb] = given.known & given.onset
        unknown[:, :, known:known + spb] &= ~given.known
    unseen = np.zeros_like(unknown)
    unseen[:, :, known + spb:] = True
    if hidden is not None:
        unseen[:, :, :known] |= hidden
    meter = np.repeat(cadence_meter(info, index - before, window, cadence)[None], n, 0)
    if bias is not None:  # the steer of this bar's steps ([V, 1 or steps_per_bar, K]) placed in the window
        window_bias = np.zeros((v, steps, bias.shape[-1]), np.float32)
        window_bias[:, known:known + spb] = bias
        bias = window_bias
    schedule = Schedule(iterations=iterations or generator.iterations, temperature=generator.temperature if temperature is None else temperature)
    predict = generator.predict
    strength = info.mood_strength
    if strength != 1.0:  # classifier-free guidance: the model's conditional answer pushed away from its unconditional one
        def predict(notes, mask, meter, mood_in, plain=generator.predict):
            both = plain(np.concatenate([notes, notes]), np.concatenate([mask, mask]), np.concatenate([meter, meter]),
                         np.concatenate([mood_in, np.zeros_like(mood_in)]))
            conditional, unconditional = both[:len(notes)], both[len(notes):]
            return unconditional + strength * (conditional - unconditional)
    grid_pitch, grid_onset = gibbs(predict, grid_pitch, grid_onset, unknown, meter, mood, info.n_pitches, rng,
                                   schedule, bias=bias, hidden=unseen, stop=stop)
    return grid_pitch[:, :, known:known + spb], grid_onset[:, :, known:known + spb]


def hurried_seconds(full: float, info: ModelInfo) -> float:
    """Seconds a bar wanted soon takes, in :data:`HURRIED_WINDOW` bars with the model's passes (as good as a full
    bar, ``benchmarks/hurry.py``), from ``full``, the seconds of a bar in the model's whole window."""
    return full * min(info.bars, HURRIED_WINDOW) / info.bars


def bar_seconds(generator: InfillGenerator, repeats: int = 3) -> float:
    """Seconds an infill model takes here to make one bar: ``iterations`` calls on the model's window (the median
    of ``repeats`` calls, times the passes; the daemon asks this at start, so it costs a few calls, not a bar)."""
    info = generator.info
    rows_a_call = 1 if info.mood_strength == 1.0 else 2  # guidance asks the conditional and the unconditional at once
    v, steps, rows = len(info.tracks), info.bars * info.steps_per_bar, info.n_pitches + 1
    notes = np.zeros((rows_a_call, v, 2, steps, rows), np.float32)
    notes[:, :, 0, :, rows // 2] = 1.0
    mask = np.zeros((rows_a_call, v, steps), np.float32)
    mask[:, :, -info.steps_per_bar:] = 1.0
    meter = np.zeros((rows_a_call, info.steps_per_beat + info.beats_per_bar + 1, steps), np.float32)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        generator.predict(notes, mask, meter, np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (rows_a_call, 1)))
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * generator.iterations
