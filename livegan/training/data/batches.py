"""Training batches: random phrases, randomly transposed, as tensors in [-1, 1].

Batches are drawn with replacement from a generator seeded by (seed, rank, step),
so a resumed run draws exactly the batches the uninterrupted run would have, and
each distributed process draws its own.
"""

from __future__ import annotations

import numpy as np
import torch

from livegan.music.dataset import PhraseSet
from livegan.training.data.phrases import allowed_shifts, pitch_extent, transpose


class BatchSource:
    """Random batches of a :class:`PhraseSet`.

    Parameters
    ----------
    data : the phrases [N, T, B, S, P] and labels [N, 2].
    transpose_limit : each phrase's melodic tracks move by a random whole number of
        semitones in [-limit, limit], among the shifts that keep every note in the window.
    """

    def __init__(self, data: PhraseSet, transpose_limit: int, seed: int, rank: int = 0) -> None:
        self.data, self.limit, self.seed, self.rank = data, transpose_limit, seed, rank
        self.extent = pitch_extent(data.phrases, data.drums)

    def rng(self, step: int, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.rank, step, salt])

    def batch(self, size: int, step: int, salt: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(rolls float32 [size, T, B, S, P] in {-1, 1}, moods float32 [size, 2]) for this step."""
        rng = self.rng(step, salt)
        index = rng.integers(0, len(self.data), size)
        rolls = np.stack([self._shifted(i, rng) for i in index])
        moods = self.data.labels[index].astype(np.float32)
        return torch.from_numpy(rolls.astype(np.float32) * 2.0 - 1.0), torch.from_numpy(moods)

    def _shifted(self, index: int, rng: np.random.Generator) -> np.ndarray:
        phrase = self.data.phrases[index]
        if self.limit == 0:
            return phrase
        low, high = allowed_shifts(self.extent[index], phrase.shape[-1], self.limit)
        shift = int(rng.integers(low, high + 1))
        return transpose(phrase, shift, self.data.drums) if shift else phrase


def latents(size: int, latent_size: int, seed: int, rank: int, step: int) -> torch.Tensor:
    """z ~ N(0, 1) [size, latent_size], reproducible from (seed, rank, step)."""
    gen = torch.Generator().manual_seed(hash((seed, rank, step)) % (2**63))
    return torch.randn(size, latent_size, generator=gen)
