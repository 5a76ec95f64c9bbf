"""The latent walk: successive phrases drift through latent space instead of jumping.

Each step is an AR(1) move, ``z' = sqrt(1 - s^2) z + s e`` with ``e ~ N(0, 1)``, which
keeps every z distributed as the N(0, 1) the generator was trained on, while
neighbouring phrases share most of their latent (``s = 0`` repeats, ``s = 1`` jumps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from livegan.engine import LatentSpec


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
