"""The latent walk: successive phrases drift through latent space instead of jumping.

Each step is an AR(1) move, ``z' = sqrt(1 - s^2) z + s e`` with ``e ~ N(0, 1)``, which
keeps every z distributed as the N(0, 1) the generator was trained on, while
neighbouring phrases share most of their latent (``s = 0`` repeats, ``s = 1`` jumps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from livegan.model.engine import LatentSpec


class Walk(Protocol):
    """Latents per phrase (per bar, for a step model): a :class:`LatentWalk` or a :class:`VariationWalk`."""

    def phrase(self, index: int) -> dict[str, np.ndarray]:
        """{latent name: float32 [1, ...]} for phrase ``index``; the same index gives the same latents."""
        ...


class LatentWalk:
    """Latents for phrase 0, 1, 2, ... of a stream, reproducible from a seed.

    Latents are kept for phrases already drawn, so a phrase regenerated after a mood
    change keeps its latent: the music changes mood, not material.
    """

    def __init__(self, specs: Sequence[LatentSpec], seed: int | None = None, step: float = 0.35, keep: int = 8) -> None:
        if not 0.0 <= step <= 1.0:
            raise ValueError(f"latent step must be in [0, 1], got {step}")
        self.specs = tuple(specs)
        self.step = step
        self.keep = keep
        self._rng = np.random.default_rng(seed)
        self._phrases: dict[int, dict[str, np.ndarray]] = {}
        self._last = -1

    def phrase(self, index: int) -> dict[str, np.ndarray]:
        """Latents (name -> float32 [1, *shape]) of phrase ``index``; phrases are drawn in order."""
        if index < self._last - self.keep:
            raise KeyError(f"phrase {index} was dropped (the walk keeps {self.keep} behind {self._last})")
        while self._last < index:
            self._advance()
        return self._phrases[index]

    def _advance(self) -> None:
        previous = self._phrases.get(self._last)
        fresh = {s.name: self._rng.standard_normal((1, *s.shape), dtype=np.float32) for s in self.specs}
        if previous is not None:
            keep = math.sqrt(1.0 - self.step**2)
            fresh = {name: (keep * previous[name] + self.step * fresh[name]).astype(np.float32) for name in fresh}
        self._last += 1
        self._phrases[self._last] = fresh
        self._phrases.pop(self._last - self.keep - 1, None)


class VariationWalk:
    """Latents that vary one phrase: phrase 0 is ``centre`` itself, phrase k its neighbour ``centre + spread * e_k``.

    ``centre`` is what an encoder made of a user's clip (``livegan render --continue``),
    so the piece opens with the clip as the model hears it and goes on with variations
    of it; ``spread`` sets how far they stray (0 repeats the clip, 1 strays as far as
    two unrelated phrases of the prior lie apart, about).
    """

    def __init__(self, centre: dict[str, np.ndarray], seed: int | None = None, spread: float = 0.5) -> None:
        if not 0.0 <= spread <= 2.0:
            raise ValueError(f"variation spread must be in [0, 2], got {spread}")
        self.centre = {name: np.asarray(value, dtype=np.float32)[:1] for name, value in centre.items()}
        self.spread = spread
        self.seed = 0 if seed is None else seed

    def phrase(self, index: int) -> dict[str, np.ndarray]:
        """Latents (name -> float32 [1, *shape]) of phrase ``index``: the same index, the same latents."""
        if index == 0:
            return self.centre
        rng = np.random.default_rng([self.seed, index])
        return {name: (z + self.spread * rng.standard_normal(z.shape, dtype=np.float32)).astype(np.float32)
                for name, z in self.centre.items()}
