"""An orderless-NADE convolutional infiller of four voices (Coconet, Huang et al., ISMIR 2017).

Shapes: N = batch, V = voices, T = time steps (16ths), P = pitches, P1 = P + 1 rows (the
last row is the rest), F = meter features, K = 2P + 1 classes per cell
(:mod:`livegan.music.voices`: struck pitch, held pitch, rest).

The network sees every voice's known cells as two planes over (time, pitch), the pitch
sounding and the pitch struck, plus where cells are unknown (the mask), and predicts a
softmax over the K classes of every (voice, step) cell. Trained to restore randomly erased
cells, it can fill in any pattern of unknown cells given the rest: a new bar after the bars
before, the lower voices under a given soprano, everything around held chord tones.

Beyond Coconet: a held note differs from a repeated one (an onset plane and a held class),
rests are a class, the meter and the score's fermatas come in as features [N, F, T]
(step in the beat, beat in the bar, fermata), and the mood (valence, arousal, known) moves
every block's features (FiLM), with the mood dropped 15 % of the time so the model also runs
unconditioned (``known`` = 0).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from livegan.music.dataset import DataConfig
from livegan.music.voices import REST
from livegan.music.voices import meter_features as voice_meter
from livegan.training.config import CoconetConfig

MOOD_INPUTS = 3  # valence, arousal, known (1 = conditioned, 0 = the mood is left to the model)
TIME_DILATIONS = (1, 2, 4, 8, 16, 1, 2, 4, 8, 16)
PITCH_DILATIONS = (1, 2, 4, 12, 1, 1, 2, 4, 12, 1)


def meter_size(grid: DataConfig) -> int:
    """F: one-hot step in the beat, one-hot beat in the bar, and the fermata flag."""
    return grid.steps_per_beat + grid.beats_per_bar + 1


def meter_features(steps: int, grid: DataConfig, fermatas: np.ndarray | None = None, first_step: int = 0) -> np.ndarray:
    """float32 [F, steps] on the grid's meter (:func:`livegan.music.voices.meter_features`)."""
    return voice_meter(steps, grid.steps_per_beat, grid.beats_per_bar, fermatas, first_step)


class Block(nn.Module):
    """Two dilated 3x3 convolutions with batch norm, FiLM from the mood after the first, and a residual."""

    def __init__(self, channels: int, dilation: tuple[int, int]) -> None:
        super().__init__()
        pad = dilation
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=pad, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=pad, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.film = nn.Linear(MOOD_INPUTS, 2 * channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(mood)[:, :, None, None].chunk(2, dim=1)
        y = torch.relu(self.bn1(self.conv1(x)) * (1.0 + gamma) + beta)
        return torch.relu(x + self.bn2(self.conv2(y)))


class Coconet(nn.Module):
    """(planes [N, V, 2, T, P1], mask [N, V, T], meter [N, F, T], mood [N, 3]) -> logits [N, V, T, K]."""

    def __init__(self, model: CoconetConfig, grid: DataConfig, n_voices: int) -> None:
        super().__init__()
        self.voices, self.pitches = n_voices, grid.n_pitches
        self.latent_size = 1  # the contract's field; an infilling model has no latent
        rows = grid.n_pitches + 1
        self.register_buffer("rows", torch.stack([torch.linspace(-1.0, 1.0, rows), (torch.arange(rows) == rows - 1).float()]))
        inputs = 3 * n_voices + meter_size(grid) + MOOD_INPUTS + 2
        self.stem = nn.Sequential(nn.Conv2d(inputs, model.channels, 3, padding=1, bias=False), nn.BatchNorm2d(model.channels),
                                  nn.ReLU())
        dilations = [(TIME_DILATIONS[i % len(TIME_DILATIONS)], PITCH_DILATIONS[i % len(PITCH_DILATIONS)])
                     for i in range(model.blocks)]
        self.blocks = nn.ModuleList(Block(model.channels, d) for d in dilations)
        self.head = nn.Conv2d(model.channels, 2 * n_voices, 1)

    def forward(self, planes: torch.Tensor, mask: torch.Tensor, meter: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        n, v, _, t, rows = planes.shape
        known = planes * (1.0 - mask)[:, :, None, :, None]
        x = torch.cat([
            known.reshape(n, 2 * v, t, rows),
            mask[:, :, :, None].expand(n, v, t, rows),
            meter[:, :, :, None].expand(n, meter.shape[1], t, rows),
            mood[:, :, None, None].expand(n, MOOD_INPUTS, t, rows),
            self.rows[None, :, None, :].expand(n, 2, t, rows),
        ], dim=1)
        x = self.stem(x)
        for block in self.blocks:
            x = block(x, mood)
        out = self.head(x).reshape(n, v, 2, t, rows)
        p = self.pitches
        # classes: struck pitch (plane 0, rows < P), held pitch (plane 1, rows < P), rest (plane 0, row P)
        return torch.cat([out[:, :, 0, :, :p], out[:, :, 1, :, :p], out[:, :, 0, :, p:]], dim=-1)


def to_planes(pitch: torch.Tensor, onset: torch.Tensor, n_pitches: int) -> torch.Tensor:
    """(pitch long [N, V, T] with REST, onset bool [N, V, T]) -> planes float [N, V, 2, T, P1] (well-formed input)."""
    rows = torch.where(pitch == REST, torch.full_like(pitch, n_pitches), pitch)
    sounding = nn.functional.one_hot(rows, n_pitches + 1).float()
    return torch.stack([sounding, sounding * onset[..., None].float()], dim=2)


def to_classes(pitch: torch.Tensor, onset: torch.Tensor, n_pitches: int) -> torch.Tensor:
    """(pitch, onset) [N, V, T] -> class long [N, V, T] (well-formed: see :func:`livegan.music.voices.to_classes`)."""
    return torch.where(pitch == REST, torch.full_like(pitch, 2 * n_pitches),
                       torch.where(onset, pitch, pitch + n_pitches))


def masked_loss(logits: torch.Tensor, classes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the masked cells of each example, then over the batch (Coconet's scaling)."""
    ce = nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), classes, reduction="none")  # [N, V, T]
    per_example = (ce * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1.0)
    return per_example.mean()


def draw_masks(n: int, voices: int, steps: int, steps_per_bar: int, rng: np.random.Generator,
               weights: tuple[float, float, float, float] = (0.4, 0.35, 0.15, 0.10)) -> np.ndarray:
    """float32 [n, V, T], 1 = unknown: the tasks the daemon asks, mixed with orderless masks.

    Families (probabilities ``weights``): orderless (k cells uniform in 1..V*T, Coconet's);
    the last one or two bars (continuing the bars before), plus a random share of the rest;
    whole voices (harmonizing the ones kept, e.g. a melody); one or two bars anywhere.
    """
    masks = np.zeros((n, voices, steps), np.float32)
    bars = steps // steps_per_bar
    family = rng.choice(4, size=n, p=np.asarray(weights) / sum(weights))
    for i, f in enumerate(family):
        if f == 0:
            k = rng.integers(1, voices * steps + 1)
            masks[i].flat[rng.choice(voices * steps, size=k, replace=False)] = 1.0
        elif f == 1:
            last = 1 if rng.random() < 0.75 else min(2, bars)
            masks[i, :, (bars - last) * steps_per_bar:] = 1.0
            extra = rng.random() * 0.5 if rng.random() < 0.4 else 0.0
            masks[i] = np.maximum(masks[i], rng.random((voices, steps)) < extra)
        elif f == 2:
            chosen = rng.random(voices) < 0.6
            chosen[rng.integers(voices)] = True
            masks[i, chosen] = 1.0
        else:
            first = rng.integers(0, bars)
            width = 1 if rng.random() < 0.7 else min(2, bars - first)
            masks[i, :, first * steps_per_bar:(first + width) * steps_per_bar] = 1.0
    return masks
