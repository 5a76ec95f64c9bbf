"""What generation hands to playback: :class:`Bar`, the mood glide :class:`Morph`, and the
:class:`Generator` protocols each runtime needs from a model.

A model declares its runtime in its contract (``ModelInfo.runtime``): ``"phrase"`` models
(MuseGAN, the VAE decoder) make a whole phrase from a latent in one call; ``"step"`` models
(the LSTM) make one time step per call from a carried state; ``"infill"`` models (Coconet) fill in
the unknown cells of a window of voices, sampled by Gibbs, bar by bar. :mod:`livegan.generation.runtimes`
holds one composing strategy per runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, Union

import numpy as np

from livegan.model.contract import ModelInfo
from livegan.model.engine import LatentSpec, StepContext
from livegan.mood.presets import Mood
from livegan.music.perform import NoteEvent
from livegan.music.roll import Note


class Cancelled(Exception):
    """Making a bar was abandoned: what it was being made for changed (a player's new chord) before it was done."""


@dataclass(frozen=True)
class Bar:
    """One bar ready to play.

    index : the composer's bar number (0 = the first bar generated).
    notes : (note-on, note-off) pairs, times in steps from the bar's start (floats: swing and
        legato move them off the grid; an off may fall after the bar's end).
    mood : the mood it was made in; version : the mood version (controls) it was made for.
    gen_seconds : wall time spent making it (its phrase, for a phrase model).
    score : the notes the model chose, on the step grid from the bar's start (``track`` = the
        model's track), before the mood's performance moved them: what ``livegan eval`` measures.
        ``score[i]`` is the note ``notes[i]`` plays.
    tied : indices into ``notes`` of the notes that hold on the note the bar before ended with (same track
        and pitch, not struck again: a tie over the bar line). The sequencer plays each as the held note's
        continuation where that note still sounds at the bar line, and strikes it where it does not.
    """

    index: int
    notes: list[tuple[NoteEvent, NoteEvent]]
    mood: Mood
    version: int
    gen_seconds: float
    score: tuple[Note, ...] = ()
    tied: frozenset[int] = frozenset()

    def moved(self, index: int) -> Bar:
        """This bar played as bar ``index`` (a freeze's repeat, the bars ahead moved by a thaw): its notes keyed
        ``(index, i)`` as the bar made there would be, so no note-off of another bar can end one of them."""
        return replace(self, index=index, notes=[(replace(on, key=(index, i)), replace(off, key=(index, i)))
                                                 for i, (on, off) in enumerate(self.notes)])


@dataclass(frozen=True)
class Morph:
    """A glide from one mood to another, starting at bar ``start`` and lasting ``bars`` bars."""

    version: int
    source: Mood
    target: Mood
    start: int
    bars: int

    def at(self, index: int) -> Mood:
        """The mood of bar ``index``: the target from bar ``start + bars - 1`` on (at once if ``bars`` is 0)."""
        if self.bars <= 0 or index >= self.start + self.bars - 1:
            return self.target
        return self.source.blend(self.target, (index - self.start + 1) / self.bars)


class PhraseGenerator(Protocol):
    """A ``"phrase"`` runtime model: :class:`~livegan.model.engine.OnnxGenerator` is the real one."""

    info: ModelInfo
    latents: tuple[LatentSpec, ...]

    def generate(self, latents: dict[str, np.ndarray], mood: np.ndarray) -> np.ndarray:
        """latents {name: float32 [N, ...]}, mood float32 [N, 2] -> note probabilities [N, T, B, S, P]."""
        ...


class StepGenerator(Protocol):
    """A ``"step"`` runtime model: :class:`~livegan.model.engine.OnnxStepGenerator` is the real one."""

    info: ModelInfo
    latents: tuple[LatentSpec, ...]

    def start(self, n: int = 1) -> StepContext:
        """The context before any music (silence), for ``n`` streams."""
        ...

    def continue_bars(self, latents: dict[str, np.ndarray], mood: np.ndarray, context: StepContext | None = None,
                      bars: int | None = None) -> tuple[np.ndarray, StepContext]:
        """Sample ``bars`` bars after ``context``: (probabilities [N, T, bars, S, P], the context after them)."""
        ...

    def listen(self, roll: np.ndarray, mood: np.ndarray, context: StepContext | None = None) -> StepContext:
        """The context after hearing ``roll`` bool [N, T, bars, S, P] (a clip to continue)."""
        ...


class InfillGenerator(Protocol):
    """An ``"infill"`` runtime model: :class:`~livegan.model.engine.OnnxInfillGenerator` is the real one."""

    info: ModelInfo
    latents: tuple[LatentSpec, ...]  # none: the sampler holds the randomness
    iterations: int  # Gibbs passes a bar
    temperature: float

    def predict(self, notes: np.ndarray, mask: np.ndarray, meter: np.ndarray, mood: np.ndarray) -> np.ndarray:
        """notes [N, V, 2, T, R], mask [N, V, T], meter [N, F, T], mood [N, 3] -> logits [N, V, T, 2P + 1]."""
        ...


Generator = Union[PhraseGenerator, StepGenerator, InfillGenerator]
