"""The mood-conditioned LSTM: an autoregressive model of the multitrack roll, one time step at a time.

Shapes use N = batch, L = time steps (a phrase has B * S), T = tracks, B = bars,
S = steps per bar, P = pitches.

At step t the network sees the frame of step t-1 (the notes of every track, 0 or
1; zeros before the first step), a one-hot of t's position in the bar [S] and the
mood [2], and predicts the logits of the frame at t [T, P]: every note an
independent Bernoulli given what came before. Training uses teacher forcing (the
true previous frame) over whole phrases; generation feeds each sampled frame back.

The recurrent state travels as one vector [N, 2 * layers * hidden]: every layer's
h, then every layer's c. That is the contract's ``state`` (livegan/contract.py),
so the daemon can carry it from bar to bar without knowing what is inside.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from livegan.music.dataset import DataConfig
from livegan.training.config import LstmConfig
from livegan.training.nets.musegan import MOOD_SIZE

NOTE_BIAS = -4.0  # initial log-odds of a note: sigmoid(-4) = 1.8 %, near the 1.2 % of cells that sound in music21's phrases


class MoodLstm(nn.Module):
    """(previous frames [N, L, T, P], positions [N, L, S], mood [N, 2], state [N, Ls]) -> logits [N, L, T, P], state."""

    def __init__(self, model: LstmConfig, grid: DataConfig, n_tracks: int) -> None:
        super().__init__()
        self.tracks, self.pitches, self.steps_per_bar = n_tracks, grid.n_pitches, grid.steps_per_bar
        self.layers, self.hidden = model.layers, model.hidden
        self.latent_size = model.latent_size(n_tracks)  # the state's length, as the contract calls it
        frame = n_tracks * grid.n_pitches
        self.lstm = nn.LSTM(frame + grid.steps_per_bar + MOOD_SIZE, model.hidden, model.layers, batch_first=True,
                            dropout=model.dropout if model.layers > 1 else 0.0)
        self.head = nn.Linear(model.hidden, frame)
        nn.init.constant_(self.head.bias, NOTE_BIAS)

    def forward(self, frames: torch.Tensor, positions: torch.Tensor, mood: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run L steps from ``state`` (None: zeros); returns the logits of each step's frame and the state after the last."""
        n, steps = frames.shape[0], frames.shape[1]
        x = torch.cat([frames.reshape(n, steps, -1), positions, mood.unsqueeze(1).expand(n, steps, MOOD_SIZE)], dim=2)
        out, (h, c) = self.lstm(x, None if state is None else self.unpack(state))
        return self.head(out).reshape(n, steps, self.tracks, self.pitches), self.pack(h, c)

    def unpack(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, 2 * layers * hidden] -> (h, c), each [layers, N, hidden] as nn.LSTM takes them."""
        parts = state.reshape(state.shape[0], 2, self.layers, self.hidden).permute(1, 2, 0, 3)
        return parts[0].contiguous(), parts[1].contiguous()

    def pack(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(h, c) [layers, N, hidden] -> [N, 2 * layers * hidden]."""
        return torch.stack([h, c]).permute(2, 0, 1, 3).reshape(h.shape[1], self.latent_size)


def time_major(rolls: torch.Tensor) -> torch.Tensor:
    """Rolls [N, T, B, S, P] -> frames [N, B * S, T, P], step by step."""
    n, t, b, s, p = rolls.shape
    return rolls.permute(0, 2, 3, 1, 4).reshape(n, b * s, t, p)


def phrase_major(frames: torch.Tensor, bars: int) -> torch.Tensor:
    """Frames [N, B * S, T, P] -> rolls [N, T, B, S, P] (the inverse of :func:`time_major`)."""
    n, steps, t, p = frames.shape
    return frames.reshape(n, bars, steps // bars, t, p).permute(0, 3, 1, 2, 4)


def positions(steps: int, steps_per_bar: int, n: int, device: torch.device | None = None) -> torch.Tensor:
    """One-hot position in the bar of steps 0 .. steps-1: [n, steps, steps_per_bar]."""
    eye = torch.eye(steps_per_bar, device=device)
    return eye[torch.arange(steps, device=device) % steps_per_bar].unsqueeze(0).expand(n, steps, steps_per_bar)


def teacher_inputs(rolls: torch.Tensor, steps_per_bar: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rolls [N, T, B, S, P] of 0/1 -> (previous frames, positions, targets), the inputs of teacher forcing.

    The previous frame of step 0 is silence; the targets are the frames themselves [N, L, T, P].
    """
    targets = time_major(rolls)
    previous = torch.cat([torch.zeros_like(targets[:, :1]), targets[:, :-1]], dim=1)
    return previous, positions(targets.shape[1], steps_per_bar, targets.shape[0], rolls.device), targets


@torch.no_grad()
def sample_phrases(model: MoodLstm, mood: torch.Tensor, bars: int, seed: int,
                   temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Sample a phrase per mood step by step from a zero state, as the daemon will (torch, eval mode).

    Returns (probabilities, notes), each float32 [M, T, B, S, P]: the probability of
    each note given the notes sampled before it, and the sampled notes (0 or 1).
    The noise comes from its own generator seeded by ``seed``, so the training
    run's random state is left alone.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    steps, m = bars * model.steps_per_bar, mood.shape[0]
    noise = torch.rand(steps, m, model.tracks, model.pitches, generator=torch.Generator().manual_seed(seed)).to(device)
    where = positions(steps, model.steps_per_bar, m, device)
    mood, frame, state = mood.to(device), torch.zeros(m, 1, model.tracks, model.pitches, device=device), None
    probs, notes = [], []
    for t in range(steps):
        logits, state = model(frame, where[:, t:t + 1], mood, state)
        p = torch.sigmoid(logits / temperature)
        frame = (noise[t].unsqueeze(1) < p).float()
        probs.append(p)
        notes.append(frame)
    model.train(was_training)
    as_rolls = (phrase_major(torch.cat(x, dim=1), bars).cpu().numpy().astype(np.float32) for x in (probs, notes))
    return next(as_rolls), next(as_rolls)
