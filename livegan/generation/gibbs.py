"""Annealed blocked Gibbs sampling of an infilling model (Coconet's sampler), in numpy.

The model answers "what could each unknown cell be, given the known ones" as a softmax per
(voice, step) cell. Sampling fills the cells to be made (the outer mask) in ``iterations``
passes: the first pass draws every one of them at once; each later pass erases a random
block of them, with a share falling from ``p_max`` to ``p_min`` over the first ``alpha`` of
the passes (Yao et al.'s schedule, as Coconet), and redraws the block given everything else.
Early passes sketch, late passes polish single notes in their context. What the model
chose is what plays: nothing is rewritten after sampling.

Randomness comes from the ``rng`` passed in, so the same seed and bar index make the same
music, live or in a render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from livegan.generation.bar import Cancelled
from livegan.music.voices import from_classes, to_planes

Predict = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(planes [N, V, 2, T, P1], mask [N, V, T], meter [N, F, T], mood [N, M]) -> logits [N, V, T, 2P + 1]."""


@dataclass(frozen=True)
class Schedule:
    """How many passes, how the erased share anneals, and the softmax temperature."""

    iterations: int = 24
    p_max: float = 0.9
    p_min: float = 0.1
    alpha: float = 0.7
    temperature: float = 0.9

    def share(self, n: int) -> float:
        """The share of the outer mask erased at pass ``n`` (1-based; pass 0 draws everything)."""
        return max(self.p_min, self.p_max - (self.p_max - self.p_min) * n / max(1.0, self.alpha * self.iterations))


def gibbs(predict: Predict, pitch: np.ndarray, onset: np.ndarray, unknown: np.ndarray, meter: np.ndarray,
          mood: np.ndarray, n_pitches: int, rng: np.random.Generator, schedule: Schedule = Schedule(),
          bias: np.ndarray | None = None, hidden: np.ndarray | None = None,
          stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fill the ``unknown`` cells; returns (pitch int16 [N, V, T], onset bool [N, V, T]).

    pitch, onset : the known cells (values under ``unknown`` are ignored).
    unknown : bool [N, V, T], the cells to make.
    bias : float32 [N, V, T, K] or broadcastable, added to the logits before sampling
        (a steer such as held chord tones); None for none.
    hidden : bool [N, V, T], cells the model must not see and that are never drawn (bars after
        the one being made); None for none.
    stop : asked before each pass after the first; True abandons the chains (raises
        :class:`~livegan.generation.bar.Cancelled`): what they were making is no longer wanted.
    """
    pitch, onset = np.array(pitch, dtype=np.int16), np.array(onset, dtype=bool)
    unknown = np.asarray(unknown, dtype=bool)
    hidden = np.zeros_like(unknown) if hidden is None else np.asarray(hidden, dtype=bool) & ~unknown
    if not unknown.any():
        return pitch, onset
    for n in range(schedule.iterations):
        if n and stop is not None and stop():
            raise Cancelled
        block = unknown if n == 0 else unknown & (rng.random(unknown.shape) < schedule.share(n))
        if not block.any():
            continue
        logits = predict(to_planes(pitch, onset, n_pitches), (block | hidden).astype(np.float32), meter, mood)
        if bias is not None:
            logits = logits + bias
        drawn = sample_classes(logits, schedule.temperature, rng)
        new_pitch, new_onset = from_classes(drawn, n_pitches)
        pitch = np.where(block, new_pitch, pitch)
        onset = np.where(block, new_onset, onset)
    return pitch, onset


def sample_classes(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One class per cell from softmax(logits / temperature) [..., K] -> int64 [...] (inverse CDF on one uniform)."""
    z = logits / max(temperature, 1e-6)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(z, axis=-1)
    u = rng.random(cdf.shape[:-1] + (1,)) * cdf[..., -1:]
    return np.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1)
