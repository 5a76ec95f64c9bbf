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


class VoiceBatchSource:
    """Random batches of a monophonic :class:`PhraseSet` as voice grids, randomly transposed.

    Each phrase becomes (pitch int16 [V, T], onset bool [V, T]) once
    (:func:`livegan.music.voices.from_roll`); a batch shifts each phrase by a whole number
    of semitones in [-limit, limit] that keeps its notes in the window.

    The phrases of every ``held_out``-th piece (``song % held_out == 0``) are kept out of the
    batches for validation (:attr:`validation`); 0 keeps none out.
    """

    def __init__(self, data: PhraseSet, transpose_limit: int, seed: int, rank: int = 0, held_out: int = 16) -> None:
        from livegan.errors import UserError
        from livegan.music.voices import REST, from_roll

        if data.onsets is None or not data.grid.monophonic:
            raise UserError("this dataset has no voices (onsets): build one with data.monophonic = true, "
                            "e.g. 'livegan data build music21:chorales --config configs/coconet.toml -o runs/chorales.npz'")
        self.data, self.limit, self.seed, self.rank = data, transpose_limit, seed, rank
        n, v = data.phrases.shape[:2]
        steps = data.grid.phrase_steps
        self.pitch, self.onset = from_roll(data.phrases.reshape(n, v, steps, -1), data.onsets.reshape(n, v, steps, -1))
        self.fermatas = data.fermatas.reshape(n, steps) if data.fermatas is not None else np.zeros((n, steps), bool)
        sounding = np.where(self.pitch == REST, np.nan, self.pitch.astype(float)).reshape(n, -1)
        self.low = np.nan_to_num(np.nanmin(sounding, axis=1), nan=0).astype(int)
        self.high = np.nan_to_num(np.nanmax(sounding, axis=1), nan=0).astype(int)
        out = (data.song % held_out == 0) if held_out and len(set(data.song.tolist())) >= held_out else np.zeros(n, bool)
        self.training = np.flatnonzero(~out)
        self.validation = np.flatnonzero(out)

    def rng(self, step: int, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.rank, step, salt, 7])

    def batch(self, size: int, step: int, salt: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pitch int64 [size, V, T] with REST, onset bool [size, V, T], fermatas bool [size, T], moods float32 [size, 2])."""
        from livegan.music.voices import REST

        rng = self.rng(step, salt)
        index = self.training[rng.integers(0, len(self.training), size)]
        return self.phrases(index, rng)

    def phrases(self, index: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, ...]:
        """The phrases ``index`` as :meth:`batch` returns them (transposed at random when ``rng`` is given)."""
        from livegan.music.voices import REST

        size = len(index)
        pitch = self.pitch[index].astype(np.int64)
        if self.limit and rng is not None:
            p = self.data.grid.n_pitches
            low = np.maximum(-self.limit, -self.low[index])
            high = np.minimum(self.limit, p - 1 - self.high[index])
            shift = np.floor(low + rng.random(size) * (high - low + 1)).astype(np.int64)
            pitch = np.where(pitch == REST, REST, pitch + shift[:, None, None])
        return pitch, self.onset[index], self.fermatas[index], self.data.labels[index].astype(np.float32)
