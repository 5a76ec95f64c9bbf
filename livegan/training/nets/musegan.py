"""The mood-conditioned MuseGAN networks: a hybrid generator and a projection critic.

Shapes use N = batch, T = tracks, B = bars, S = steps per bar, P = pitches,
K = steps per beat, O = octaves (P / 12), Q = beats per bar.

Generator (MuseGAN's *hybrid* model, ISMIR'19 tutorial layer sizes):
``z`` [N, Z] is split into a shared part, a shared temporal part, and per-track
private and private-temporal parts. Two temporal nets spread the temporal parts
over the B bars; a shared trunk turns (shared, temporal) into bar features
[trunk, Q, O]; one branch per track adds that track's private latents and grows
time (x K steps) then pitch (x 12 semitones). Every batch norm is conditioned on
the mood (valence, arousal): its scale and shift are linear in the mood.

Critic: per-track streams (pitch then time, grouped convolutions), a chroma
stream (pitch classes per beat), merged convolutions over beats then bars, and a
projection term <h, W mood> for the condition (Miyato & Koyama 2018).
"""

from __future__ import annotations

import torch
from torch import nn

from livegan.music.dataset import DataConfig
from livegan.training.config import ModelConfig

MOOD_SIZE = 2


class MoodBatchNorm(nn.Module):
    """Batch norm whose scale and shift are linear in the mood: y = BN(x) * (1 + W_g m) + W_b m."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(MOOD_SIZE, channels)
        self.bias = nn.Linear(MOOD_SIZE, channels)
        for layer in (self.gain, self.bias):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        """x [M, C, H, W], mood [M, 2] -> [M, C, H, W]."""
        gain = 1.0 + self.gain(mood)[:, :, None, None]
        return self.norm(x) * gain + self.bias(mood)[:, :, None, None]


class TemporalNet(nn.Module):
    """A latent [M, size] -> one latent per bar [M, bars, size] (MuseGAN's temporal generator)."""

    def __init__(self, size: int, hidden: int, bars: int) -> None:
        super().__init__()
        self.bars, self.size = bars, size
        self.net = nn.Sequential(
            nn.Linear(size + MOOD_SIZE, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, bars * size),
        )

    def forward(self, z: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, mood], dim=1)).reshape(-1, self.bars, self.size)


class Generator(nn.Module):
    """(z [N, Z], mood [N, 2]) -> roll [N, T, B, S, P] in [-1, 1] (tanh; > 0 means a note sounds)."""

    def __init__(self, model: ModelConfig, grid: DataConfig, n_tracks: int) -> None:
        super().__init__()
        self.m, self.grid, self.tracks = model, grid, n_tracks
        self.latent_size = model.latent_size(n_tracks)
        beats, octaves = grid.beats_per_bar, grid.n_pitches // 12
        self.temporal = TemporalNet(model.z_temporal, model.temporal_hidden, grid.bars)
        self.private_temporal = TemporalNet(model.z_private_temporal, model.temporal_hidden, grid.bars)
        c1, c2, c3 = model.g_trunk
        self.trunk = nn.ModuleList([
            nn.ConvTranspose2d(model.z_shared + model.z_temporal + MOOD_SIZE, c1, (beats, 1)),  # -> [Q, 1]
            nn.ConvTranspose2d(c1, c2, (1, octaves)),  # -> [Q, O]
            nn.ConvTranspose2d(c2, c3, (1, 1)),
        ])
        self.trunk_norms = nn.ModuleList([MoodBatchNorm(c) for c in (c1, c2, c3)])
        private = model.z_private + model.z_private_temporal
        k, b = grid.steps_per_beat, model.g_branch
        self.branch_time = nn.ConvTranspose2d(n_tracks * (c3 + private), n_tracks * b, (k, 1), (k, 1), groups=n_tracks)
        self.branch_norm = MoodBatchNorm(n_tracks * b)
        self.branch_pitch = nn.ConvTranspose2d(n_tracks * b, n_tracks, (1, 12), (1, 12), groups=n_tracks)

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [N, Z] -> shared [N, zs], temporal [N, zt], private [N, T, zp], private temporal [N, T, zpt]."""
        m, t = self.m, self.tracks
        sizes = [m.z_shared, m.z_temporal, t * m.z_private, t * m.z_private_temporal]
        shared, temporal, private, private_t = torch.split(z, sizes, dim=1)
        return shared, temporal, private.reshape(-1, t, m.z_private), private_t.reshape(-1, t, m.z_private_temporal)

    def forward(self, z: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        n, t, bars = z.shape[0], self.tracks, self.grid.bars
        shared, temporal, private, private_t = self.split(z)
        bar_mood = mood.unsqueeze(1).expand(n, bars, MOOD_SIZE).reshape(n * bars, MOOD_SIZE)
        per_bar = self.temporal(temporal, mood)  # [N, B, zt]
        track_mood = mood.unsqueeze(1).expand(n, t, MOOD_SIZE).reshape(n * t, MOOD_SIZE)
        per_bar_private = self.private_temporal(private_t.reshape(n * t, -1), track_mood).reshape(n, t, bars, -1)
        x = torch.cat([shared.unsqueeze(1).expand(n, bars, shared.shape[1]), per_bar,
                       mood.unsqueeze(1).expand(n, bars, MOOD_SIZE)], dim=2)
        x = x.reshape(n * bars, -1, 1, 1)
        for conv, norm in zip(self.trunk, self.trunk_norms):
            x = torch.relu(norm(conv(x), bar_mood))  # -> [N*B, c3, Q, O]
        return self._branches(x, private, per_bar_private, bar_mood, n)

    def _branches(self, x: torch.Tensor, private: torch.Tensor, per_bar_private: torch.Tensor,
                  bar_mood: torch.Tensor, n: int) -> torch.Tensor:
        """Trunk features [N*B, c3, Q, O] + private latents -> roll [N, T, B, S, P]."""
        t, bars, (q, o) = self.tracks, self.grid.bars, x.shape[2:]
        priv = torch.cat([private.unsqueeze(2).expand(-1, -1, bars, -1), per_bar_private], dim=3)  # [N, T, B, zp+zpt]
        priv = priv.transpose(1, 2).reshape(n * bars, t, -1, 1, 1).expand(-1, -1, -1, q, o)
        shared = x.unsqueeze(1).expand(-1, t, -1, -1, -1)
        x = torch.cat([shared, priv], dim=2).reshape(n * bars, -1, q, o)
        x = torch.relu(self.branch_norm(self.branch_time(x), bar_mood))
        x = torch.tanh(self.branch_pitch(x))  # [N*B, T, S, P]
        return x.reshape(n, bars, t, x.shape[2], x.shape[3]).transpose(1, 2)


class Critic(nn.Module):
    """(roll [N, T, B, S, P] in [-1, 1], mood [N, 2]) -> score [N] (WGAN critic, projection condition)."""

    def __init__(self, model: ModelConfig, grid: DataConfig, n_tracks: int) -> None:
        super().__init__()
        t, c, k = n_tracks, model.d_track, grid.steps_per_beat
        octaves, beats, bars = grid.n_pitches // 12, grid.beats_per_bar, grid.bars
        self.octaves, self.steps_per_beat = octaves, k
        self.track_stream = nn.Sequential(
            nn.Conv3d(t, t * c, (1, 1, 12), (1, 1, 12), groups=t), nn.GroupNorm(1, t * c), nn.LeakyReLU(0.2),
            nn.Conv3d(t * c, t * c, (1, k, 1), (1, k, 1), groups=t), nn.GroupNorm(1, t * c), nn.LeakyReLU(0.2),
            nn.Conv3d(t * c, model.d_merged[0], (1, 1, octaves)), nn.GroupNorm(1, model.d_merged[0]), nn.LeakyReLU(0.2),
        )  # -> [N, m0, B, Q, 1]
        self.chroma_stream = nn.Sequential(
            nn.Conv3d(t, model.d_chroma, (1, 1, 12)), nn.GroupNorm(1, model.d_chroma), nn.LeakyReLU(0.2),
        )  # -> [N, dc, B, Q, 1]
        m0, m1, m2, m3 = model.d_merged
        pair = min(2, bars)
        self.merged = nn.Sequential(
            nn.Conv3d(m0 + model.d_chroma, m1, (1, beats, 1)), nn.GroupNorm(1, m1), nn.LeakyReLU(0.2),  # -> [B, 1, 1]
            nn.Conv3d(m1, m2, (pair, 1, 1)), nn.GroupNorm(1, m2), nn.LeakyReLU(0.2),  # -> [B - pair + 1, 1, 1]
            nn.Conv3d(m2, m3, (bars - pair + 1, 1, 1)), nn.LeakyReLU(0.2),  # -> [1, 1, 1]
        )
        self.out = nn.Linear(m3 + 1, 1)
        self.project = nn.Linear(MOOD_SIZE, m3, bias=False)

    def chroma(self, x: torch.Tensor) -> torch.Tensor:
        """[N, T, B, S, P] in [-1, 1] -> activity per pitch class and beat [N, T, B, Q, 12] in [0, 1]."""
        n, t, b, s, p = x.shape
        on = (x + 1.0) * 0.5
        return on.reshape(n, t, b, s // self.steps_per_beat, self.steps_per_beat, self.octaves, 12).mean(dim=(4, 5))

    def forward(self, x: torch.Tensor, mood: torch.Tensor, groups: int = 1,
                features: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``groups``: the batch is that many equal sets (e.g. real, fake, interpolates) scored apart.

        ``features=True`` also returns the phrase features [N, m3] the score is made
        from, for a :class:`MoodHead` (one forward, as DistributedDataParallel needs).
        """
        h = torch.cat([self.track_stream(x), self.chroma_stream(self.chroma(x))], dim=1)
        h = self.merged(h).flatten(1)  # [N, m3]
        spread = minibatch_spread(h, groups)  # [N, 1]
        score = self.out(torch.cat([h, spread], dim=1)).squeeze(1) + (h * self.project(mood)).sum(dim=1)
        return (score, h) if features else score


class MoodHead(nn.Module):
    """(critic's phrase features [N, m3], roll [N, T, B, S, P]) -> the mood they sound like [N, 2] in [-1, 1].

    AC-GAN's auxiliary classifier (Odena et al. 2017). The projection term alone left
    the generator free to ignore valence here, and a head on the critic's features
    alone could not learn to read valence from real phrases either (its error stayed
    at the labels' variance for 1,200 steps): the critic's pitch-class stream is not
    transposition invariant, and phrases are transposed at random. So the head also
    hears the phrase's key: ``keys`` linear filters over the 12 rotations of its
    pitch-class profile, each keeping its best rotation. One such filter holding the
    major Krumhansl-Kessler profile and one the minor computes the label rule, so the
    head can hear the mode in any key. It also hears each track's note onsets per bar
    (:func:`onset_rate`), which the arousal labels are made from; the critic's
    features, layer-normed (they run to tens and saturated the tanh), supply the rest.
    """

    def __init__(self, model: ModelConfig, drums: list[bool], hidden: int = 64, keys: int = 16) -> None:
        """``drums``: which tracks are drums (their note numbers are instruments, not pitches: the key leaves them out)."""
        super().__init__()
        n_tracks = len(drums)
        self.register_buffer("melodic", ~torch.as_tensor(drums, dtype=torch.bool), persistent=False)
        self.key = nn.Linear(12, keys)
        self.norm = nn.LayerNorm(model.d_merged[-1])
        self.net = nn.Sequential(nn.Linear(model.d_merged[-1] + keys + n_tracks, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, MOOD_SIZE), nn.Tanh())

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        profile = pitch_class_profile(x[:, self.melodic])  # [N, 12]
        rotations = torch.stack([torch.roll(profile, -k, dims=1) for k in range(12)], dim=1)  # [N, 12, 12]
        key = self.key(rotations).amax(dim=1)  # [N, keys]: the same in every key
        rate = torch.log1p(onset_rate(x))  # [N, T]
        return self.net(torch.cat([self.norm(h), key, rate], dim=1))


def onset_rate(x: torch.Tensor) -> torch.Tensor:
    """Roll [N, T, B, S, P] in [-1, 1] -> note onsets per bar of each track [N, T], soft where the roll is.

    An onset is a cell that sounds where the step before did not (the first step of
    the phrase counts its notes); in a 0/1 roll it counts notes, as the labels do.
    """
    on = (x + 1.0) * 0.5
    steps = on.flatten(2, 3)  # [N, T, B*S, P]
    before = torch.cat([torch.zeros_like(steps[:, :, :1]), steps[:, :, :-1]], dim=2)
    return torch.relu(steps - before).sum(dim=(2, 3)) / x.shape[2]


def pitch_class_profile(x: torch.Tensor) -> torch.Tensor:
    """Roll [N, T, B, S, P] in [-1, 1] (P a multiple of 12) -> share of sounding steps per pitch class [N, 12].

    Pitch class 0 is the roll's lowest pitch; what uses it must not care (the head keeps
    each filter's best rotation).
    """
    on = ((x + 1.0) * 0.5).sum(dim=(1, 2, 3))  # [N, P]
    per_class = on.reshape(on.shape[0], -1, 12).sum(dim=1)
    return per_class / (per_class.sum(dim=1, keepdim=True) + 1e-6)


def minibatch_spread(h: torch.Tensor, groups: int) -> torch.Tensor:
    """Features [N, F] -> [N, 1]: each set's mean standard deviation over its samples (Karras et al. 2018).

    A critic that sees how much a batch varies can penalise a generator that plays
    one phrase whatever its latent (mode collapse), which WGAN-GP alone let happen here.
    """
    n = h.shape[0]
    sets = h.reshape(groups, n // groups, -1)
    spread = (sets.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=1)  # [groups]
    return spread.repeat_interleave(n // groups).unsqueeze(1)

