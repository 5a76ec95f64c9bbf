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
- :class:`InfillRuntime`: one bar per call, sampled (Gibbs) given the voices of the bars
  before it; kept like a step model's bars.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from livegan.generation.bar import Bar, Generator, InfillGenerator, Morph, PhraseGenerator, StepGenerator
from livegan.generation.guide import MoodGuide
from livegan.generation.latent import Walk
from livegan.model.contract import ModelInfo, decode_voices
from livegan.model.engine import StepContext
from livegan.mood.presets import Mood
from livegan.music.perform import perform_notes, phrase_notes, split_bars, threshold_for
from livegan.music.roll import Note
from livegan.music.voices import REST, meter_features, roll_of, to_classes, voices_to_notes


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

    def make(self, index: int, morph: Morph) -> Made:
        """Generate bar ``index`` (and what comes with it) in the glide ``morph``."""
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

    def make(self, index: int, morph: Morph) -> Made:
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

    def make(self, index: int, morph: Morph) -> Made:
        return self.make_after(index, morph, self.contexts.before(index))

    def make_after(self, index: int, morph: Morph, context: StepContext) -> Made:
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
        bar = Bar(index, perform_notes(notes, self.info, mood, index), mood, morph.version, time.perf_counter() - started,
                  tuple(notes))
        return Made({index: bar}, {index: after.row(pick)})

    def keep(self, bars: dict[int, Bar], made: Made, low: int) -> list[int]:
        return self.contexts.keep(bars, made, low)

    def close(self) -> None:
        pass

    def shift(self, after: int, offset: int) -> None:
        self.contexts.shift(after, offset)


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
CHORD_BIAS = 4.0  # log-odds added to the chord's pitch classes (struck or held) when a chord is asked for
BASS_BIAS = 3.0  # and to the bass's pitch class in the lowest voice
AVOID_BIAS = -30.0  # a pitch the player holds: never doubled
LOOP_BIAS = 6.0  # variation 0: log-odds added to each cell's class of two bars before (a loop); fades to 0 at 0.5
RESTLESS_HEAT = 0.6  # variation 1: the sampling temperature rises by 30 %


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

    @property
    def opening(self) -> VoiceContext:
        return self.contexts.opening

    def make(self, index: int, morph: Morph) -> Made:
        return self.make_after(index, morph, self.contexts.before(index))

    def make_after(self, index: int, morph: Morph, context: VoiceContext) -> Made:
        """Bar ``index`` after ``context`` (pure: the same arguments make the same bar).

        A mood's ``given`` notes (a player's melody, a call) are known cells of their voices, in this bar
        and the bars before; in a bar the mood ``rests`` in, nothing plays and what the player played is kept as context.
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
        if mood.rests_in(index):
            made = Bar(index, [], mood, morph.version, time.perf_counter() - started, ())
            return Made({index: made}, {index: context.then(here.pitch, here.onset, info.bars - 1, ~here.known)})
        n = self.guide.candidates if self.guide is not None else 1
        pitch, onset = sample_bar(self.generator, np.repeat(context.pitch[None], n, 0), np.repeat(context.onset[None], n, 0),
                                  index, np.tile(np.array([[*mood.point, 1.0]], np.float32), (n, 1)),
                                  np.random.default_rng([self.seed, mood.idea, index]), bias=steering(info, mood, context),
                                  cadence=self.cadence, hidden=context.hidden, given=here,
                                  temperature=self.generator.temperature * (1.0 + RESTLESS_HEAT * max(0.0, mood.variation - 0.5)))
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
                   tuple(notes))
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
               given: Given | None = None, temperature: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bar ``index`` of N streams after the bars before it: (pitch int16, onset bool) [N, V, steps_per_bar].

    pitch, onset : [N, V, c * steps_per_bar], the last ``c`` bars (0 <= c < the model's window).
    mood : float32 [N, 3], (valence, arousal, known). The window is the model's: the bars before,
    this bar (drawn), and, where fewer bars came before, the bars after it, hidden.
    bias : log-odds [V, 1 or steps_per_bar, 2P + 1] added to this bar's classes (:func:`steering`), or None.
    hidden : bool [V, c * steps_per_bar], cells of the bars before that the model must not see (None: none).
    given : the bar's cells a player fixed (a melody): known, not drawn; None: none.
    """
    from livegan.generation.gibbs import Schedule, gibbs

    info = generator.info
    spb, window = info.steps_per_bar, info.bars
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
    schedule = Schedule(iterations=generator.iterations, temperature=generator.temperature if temperature is None else temperature)
    predict = generator.predict
    strength = info.mood_strength
    if strength != 1.0:  # classifier-free guidance: the model's conditional answer pushed away from its unconditional one
        def predict(notes, mask, meter, mood_in, plain=generator.predict):
            both = plain(np.concatenate([notes, notes]), np.concatenate([mask, mask]), np.concatenate([meter, meter]),
                         np.concatenate([mood_in, np.zeros_like(mood_in)]))
            conditional, unconditional = both[:len(notes)], both[len(notes):]
            return unconditional + strength * (conditional - unconditional)
    grid_pitch, grid_onset = gibbs(predict, grid_pitch, grid_onset, unknown, meter, mood, info.n_pitches, rng,
                                   schedule, bias=bias, hidden=unseen)
    return grid_pitch[:, :, known:known + spb], grid_onset[:, :, known:known + spb]


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


def runtime_for(generator: Generator, *, walk: Walk, guide: MoodGuide | None = None, threshold: float | None = None,
                opening: StepContext | VoiceContext | None = None, seed: int | None = None) -> Runtime:
    """The strategy the model's contract declares (``info.runtime``: ``"phrase"``, ``"step"`` or ``"infill"``)."""
    runtime = generator.info.runtime
    if runtime == "step":
        return StepRuntime(generator, walk=walk, guide=guide, threshold=threshold, opening=opening)
    if runtime == "infill":
        return InfillRuntime(generator, seed=seed, guide=guide, opening=opening)
    if opening is not None:
        raise ValueError("an opening context continues a step model; a phrase model starts from its latent")
    if runtime == "phrase":
        return PhraseRuntime(generator, walk=walk, guide=guide, threshold=threshold)
    raise ValueError(f"no runtime for {runtime!r} models")
