"""Mood guidance by selection: of a few nearby latents, play the phrase that sounds like the mood.

A GAN's mood input only helps as far as training made it work; the shipped model's
valence is at chance (models/default.md). Guidance does not rely on it: for each
phrase the composer generates ``candidates`` phrases in one batch, from the walk's
latent and ``candidates - 1`` neighbours of it, and keeps the one whose analysis
fits the mood best:

- valence: the Krumhansl-Kessler major-minus-minor score of the melodic tracks
  (the same analysis ``livegan eval`` uses), times the valence;
- arousal: notes per bar, standardised over the candidates, times the arousal.

Each term is scaled by its spread over the candidates, so neither dominates. The
neighbours are drawn from a seed and the phrase index, so a phrase regenerated for a
new mood chooses again among the same material. ``candidates = 1`` turns it off.
"""

from __future__ import annotations

import math

import numpy as np

from livegan.model.contract import ModelInfo
from livegan.music.analysis import phrase_densities, phrase_modes

DEFAULT_CANDIDATES = 8
DEFAULT_SPREAD = 0.5


def default_candidates(info: ModelInfo) -> int:
    """Guidance by default: 8 candidates for phrase and step models, whose valence is weak; none for an
    infill model, whose mood is in the model and whose bars cost a Gibbs chain each."""
    return 1 if info.runtime == "infill" else DEFAULT_CANDIDATES


class MoodGuide:
    """Candidate latents around the walk's, and the choice among their phrases."""

    def __init__(self, info: ModelInfo, candidates: int = DEFAULT_CANDIDATES, spread: float = DEFAULT_SPREAD,
                 seed: int | None = None) -> None:
        if candidates < 1:
            raise ValueError(f"mood guidance needs at least 1 candidate, got {candidates}")
        if not 0.0 <= spread <= 1.0:
            raise ValueError(f"candidate spread must be in [0, 1], got {spread}")
        self.info = info
        self.candidates = candidates
        self.spread = spread
        self.seed = 0 if seed is None else seed

    def latents(self, base: dict[str, np.ndarray], phrase: int) -> dict[str, np.ndarray]:
        """[candidates, ...] per input: the walk's latent first, then neighbours ``sqrt(1-s²) z + s e``.

        Each neighbour is still N(0, 1) distributed, like every latent the model saw.
        """
        if self.candidates == 1:
            return base
        rng = np.random.default_rng([self.seed, phrase])
        keep = math.sqrt(1.0 - self.spread**2)
        out = {}
        for name, z in base.items():
            noise = rng.standard_normal((self.candidates - 1, *z.shape[1:]), dtype=np.float32)
            out[name] = np.concatenate([z, (keep * z + self.spread * noise).astype(np.float32)])
        return out

    def scores(self, rolls: np.ndarray, valence: float, arousal: float) -> np.ndarray:
        """How well each phrase (bool [candidates, tracks, bars, steps, pitches]) fits the mood; higher is better."""
        _, mode, analysed = phrase_modes(rolls, self.info)
        mode = np.where(analysed, mode, 0.0)
        density = phrase_densities(rolls, self.info)
        return valence * _standardise(mode) + arousal * _standardise(density)

    def choose(self, rolls: np.ndarray, valence: float, arousal: float) -> int:
        """Index of the candidate to play; the walk's own latent (0) wins ties."""
        if len(rolls) == 1:
            return 0
        return int(np.argmax(self.scores(rolls, valence, arousal)))


def _standardise(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std over the candidates; all zeros if they do not differ."""
    std = float(np.std(x))
    return (x - float(np.mean(x))) / std if std > 1e-9 else np.zeros_like(x, dtype=float)
