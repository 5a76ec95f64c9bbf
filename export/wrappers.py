"""The torch modules that are exported: each wraps a trained network in the contract's tensors.

- :class:`ExportedGenerator` (MuseGAN): ``z``, ``mood`` -> ``roll`` probabilities.
- :class:`ExportedDecoder` / :class:`ExportedEncoder` (VAE): the decoder plays like a
  generator; the encoder is the sidecar that reads a clip.
- :class:`ExportedStep` (LSTM): one time step, its state in and out.
- :class:`ExportedInfill` (Coconet): the logits of every cell given the known ones.
"""

from __future__ import annotations

import torch
from torch import nn

from livegan.training.nets.coconet import Coconet
from livegan.training.nets.lstm import MoodLstm
from livegan.training.nets.musegan import Generator
from livegan.training.nets.vae import Decoder, Encoder


class ExportedDecoder(nn.Module):
    """What the daemon runs (runtime ``"phrase"``): (z [N, Z], mood [N, 2]) -> roll [N, T, B, S, P] in [0, 1]."""

    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        self.decoder = decoder
        self.eval()

    def forward(self, z: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z, mood.clamp(-1.0, 1.0)))


class ExportedEncoder(nn.Module):
    """The encoder sidecar: (roll [N, T, B, S, P] of 0/1, mood [N, 2]) -> z [N, Z], the posterior mean."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.eval()

    def forward(self, roll: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        return self.encoder(roll, mood.clamp(-1.0, 1.0))[0]


class ExportedStep(nn.Module):
    """What the daemon runs (runtime ``"step"``): one time step.

    (frame [N, T, P], position [N, S], mood [N, 2], state [N, Ls]) ->
    (logits [N, T, P], state_out [N, Ls]).
    """

    def __init__(self, model: MoodLstm) -> None:
        super().__init__()
        self.model = model
        self.eval()  # no dropout; the exporter restores this mode

    def forward(self, frame: torch.Tensor, position: torch.Tensor, mood: torch.Tensor,
                state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, state_out = self.model(frame.unsqueeze(1), position.unsqueeze(1), mood.clamp(-1.0, 1.0), state)
        return logits.squeeze(1), state_out


class ExportedGenerator(nn.Module):
    """What the daemon runs for MuseGAN: (z [N, Z], mood [N, 2]) -> roll [N, T, B, S, P] in [0, 1]."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator
        self.eval()  # batch norm uses its running statistics; the exporter restores this mode

    def forward(self, z: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        return (self.generator(z, mood.clamp(-1.0, 1.0)) + 1.0) * 0.5


class ExportedInfill(nn.Module):
    """What the daemon runs (runtime ``"infill"``): the class logits of every cell of a window.

    (notes [N, V, 2, T, R], mask [N, V, T], meter [N, F, T], mood [N, 3]) -> logits [N, V, T, 2P + 1].
    """

    def __init__(self, model: Coconet) -> None:
        super().__init__()
        self.model = model
        self.eval()  # batch norm uses its running statistics; the exporter restores this mode

    def forward(self, notes: torch.Tensor, mask: torch.Tensor, meter: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
        return self.model(notes, mask, meter, mood.clamp(-1.0, 1.0))
