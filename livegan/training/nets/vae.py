"""The mood-conditioned VAE: an encoder and a decoder of whole phrases, and its loss.

Shapes use N = batch, T = tracks, B = bars, S = steps per bar, P = pitches,
K = steps per beat, Q = beats per bar, O = octaves (P / 12), Z = latent size.

Encoder, (roll [N, T, B, S, P] of 0/1, mood [N, 2]) -> (mu, logvar) [N, Z]: one
stream per track (grouped convolutions: the 12 semitones of each octave, then the
K steps of each beat), merged over the octaves, then over the beats of each bar;
the bars' features and the mood give mu and log-variance (as MuseGAN's critic
reads a phrase, without its critic's tricks).

Decoder, (z [N, Z], mood [N, 2]) -> logits [N, T, B, S, P]: a linear code per bar,
then MuseGAN's generator in miniature: a shared trunk of transposed convolutions
grows beats, then octaves; per-track branches grow the steps of each beat, then the
12 semitones of each octave, with batch norm between the layers (it trained about
1.5 times faster than without, here). The mood enters with z and again at the trunk.

Loss: binary cross-entropy summed over a phrase's cells, plus beta times the KL
divergence to N(0, 1); beta grows linearly over ``kl_warmup`` steps, and each latent
dimension's KL below ``free_bits`` (batch mean) costs nothing, so the decoder
cannot ignore z (Kingma et al. 2016's free bits; Bowman et al. 2016's warm-up).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from livegan.music.dataset import DataConfig
from livegan.training.config import VaeConfig
from livegan.training.nets.musegan import MOOD_SIZE

NOTE_BIAS = -4.0  # initial log-odds of a note: sigmoid(-4) = 1.8 %, near the 1.2 % of cells that sound in music21's phrases


class Encoder(nn.Module):
    """(roll [N, T, B, S, P] in {0, 1}, mood [N, 2]) -> (mu [N, Z], logvar [N, Z])."""

    def __init__(self, model: VaeConfig, grid: DataConfig, n_tracks: int) -> None:
        super().__init__()
        t, c, k = n_tracks, model.enc_track, grid.steps_per_beat
        m0, m1 = model.enc_merged
        self.stream = nn.Sequential(
            nn.Conv3d(t, t * c, (1, 1, 12), (1, 1, 12), groups=t), nn.LeakyReLU(0.2),  # -> [N, T*c, B, S, O]
            nn.Conv3d(t * c, t * c, (1, k, 1), (1, k, 1), groups=t), nn.LeakyReLU(0.2),  # -> [N, T*c, B, Q, O]
            nn.Conv3d(t * c, m0, (1, 1, grid.n_pitches // 12)), nn.LeakyReLU(0.2),  # -> [N, m0, B, Q, 1]
            nn.Conv3d(m0, m1, (1, grid.beats_per_bar, 1)), nn.LeakyReLU(0.2),  # -> [N, m1, B, 1, 1]
        )
        self.mu = nn.Linear(m1 * grid.bars + MOOD_SIZE, model.latent)
        self.logvar = nn.Linear(m1 * grid.bars + MOOD_SIZE, model.latent)

    def forward(self, roll: torch.Tensor, mood: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.cat([self.stream(roll).flatten(1), mood], dim=1)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """(z [N, Z], mood [N, 2]) -> note logits [N, T, B, S, P]."""

    def __init__(self, model: VaeConfig, grid: DataConfig, n_tracks: int) -> None:
        super().__init__()
        c1, c2, c3 = model.dec_trunk
        self.bars, self.tracks, self.width = grid.bars, n_tracks, c1
        self.steps_per_bar, self.pitches = grid.steps_per_bar, grid.n_pitches
        k, b = grid.steps_per_beat, model.dec_branch
        self.per_bar = nn.Linear(model.latent + MOOD_SIZE, grid.bars * c1)
        self.trunk = nn.Sequential(
            nn.ConvTranspose2d(c1 + MOOD_SIZE, c1, (grid.beats_per_bar, 1)), nn.BatchNorm2d(c1), nn.LeakyReLU(0.2),  # -> [Q, 1]
            nn.ConvTranspose2d(c1, c2, (1, grid.n_pitches // 12)), nn.BatchNorm2d(c2), nn.LeakyReLU(0.2),  # -> [Q, O]
            nn.ConvTranspose2d(c2, c3, (1, 1)), nn.BatchNorm2d(c3), nn.LeakyReLU(0.2),
        )
        self.branches = nn.Sequential(
            nn.ConvTranspose2d(c3, n_tracks * b, (k, 1), (k, 1)), nn.BatchNorm2d(n_tracks * b), nn.LeakyReLU(0.2),  # -> [T*b, S, O]
            nn.ConvTranspose2d(n_tracks * b, n_tracks, (1, 12), (1, 12), groups=n_tracks),  # -> [T, S, P]
        )
        nn.init.constant_(self.branches[-1].bias, NOTE_BIAS)

    def forward(self, z: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        n, bars = z.shape[0], self.bars
        codes = torch.relu(self.per_bar(torch.cat([z, mood], dim=1))).reshape(n * bars, self.width, 1, 1)
        bar_mood = mood.unsqueeze(1).expand(n, bars, MOOD_SIZE).reshape(n * bars, MOOD_SIZE, 1, 1)
        x = self.branches(self.trunk(torch.cat([codes, bar_mood], dim=1)))  # [N*B, T, S, P]
        return x.reshape(n, bars, self.tracks, self.steps_per_bar, self.pitches).transpose(1, 2)


class Vae(nn.Module):
    """(roll [N, T, B, S, P] in {0, 1}, mood [N, 2]) -> (logits, mu, logvar): one pass for training.

    In training mode z is drawn from the encoder's Gaussian (reparameterised); in
    eval mode z is its mean, as the exported encoder returns.
    """

    def __init__(self, model: VaeConfig, grid: DataConfig, n_tracks: int) -> None:
        super().__init__()
        self.latent_size = model.latent
        self.encoder = Encoder(model, grid, n_tracks)
        self.decoder = Decoder(model, grid, n_tracks)

    def forward(self, roll: torch.Tensor, mood: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(roll, mood)
        logvar = logvar.clamp(-12.0, 8.0)  # exp() stays finite early in training
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z, mood), mu, logvar


def kl_beta(model: VaeConfig, step: int) -> float:
    """The KL weight at training step ``step`` (1-based): linear from 0 over ``kl_warmup`` steps, then ``kl_weight``."""
    if model.kl_warmup == 0:
        return model.kl_weight
    return model.kl_weight * min(1.0, step / model.kl_warmup)


def vae_loss(logits: torch.Tensor, target: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float,
             free_bits: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative ELBO per phrase with free bits; also its parts as floats for logging.

    logits, target [N, T, B, S, P] (target 0/1); mu, logvar [N, Z]. ``rec`` is the
    cross-entropy summed over a phrase's cells (nats), ``kl`` the KL summed over z's
    dimensions (nats), both averaged over the batch.
    """
    n = logits.shape[0]
    rec = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / n
    kl_per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)  # [Z], nats
    kl_cost = kl_per_dim.clamp(min=free_bits * math.log(2.0)).sum()
    loss = rec + beta * kl_cost
    kl = float(kl_per_dim.sum().detach())
    return loss, {"loss": float(loss.detach()), "rec": float(rec.detach()), "kl": kl, "beta": beta}
