"""WGAN-GP losses (Gulrajani et al. 2017), as MuseGAN trains.

Critic: E[D(fake)] - E[D(real)] + lambda * E[(||grad D(x_hat)||_2 - 1)^2] on random
interpolates x_hat. Real, fake and interpolates go through the critic in one call,
so that DistributedDataParallel sees one forward per backward.
"""

from __future__ import annotations

import torch
from torch import nn


def critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, mood: torch.Tensor,
                gp_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Critic loss for rolls [N, T, B, S, P] in [-1, 1] and moods [N, 2]; also the parts as floats for logging."""
    n = real.shape[0]
    alpha = torch.rand(n, 1, 1, 1, 1, device=real.device)
    between = (alpha * real + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(torch.cat([real, fake.detach(), between]), mood.repeat(3, 1), groups=3)
    s_real, s_fake, s_between = scores.split(n)
    (grad,) = torch.autograd.grad(s_between.sum(), between, create_graph=True)
    penalty = ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
    wasserstein = s_real.mean() - s_fake.mean()
    loss = -wasserstein + gp_weight * penalty
    return loss, {"d": float(loss.detach()), "w": float(wasserstein.detach()), "gp": float(penalty.detach())}


def generator_loss(critic: nn.Module, fake: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z, mood), mood)]; the critic's own parameters get no gradient."""
    for p in critic.parameters():
        p.requires_grad_(False)
    try:
        return -critic(fake, mood).mean()
    finally:
        for p in critic.parameters():
            p.requires_grad_(True)


def mode_loss(fake: torch.Tensor, mood: torch.Tensor, drums: torch.Tensor, lowest_pitch: int,
              sharpness: float = 20.0) -> torch.Tensor:
    """Auxiliary loss that makes valence audible: softplus(-valence * mode score * sharpness), averaged.

    The mode score is the label rule's (best major minus best minor Krumhansl-Kessler
    correlation of the pitch-class durations, see :mod:`livegan.training.labels`),
    made differentiable: durations are the generator's note probabilities summed over
    the melodic tracks, and each best-of-12 is a soft maximum. fake [N, T, B, S, P] in
    [-1, 1], mood [N, 2], drums bool [T].
    """
    probs = (fake[:, ~drums] + 1.0) * 0.5
    per_pitch = probs.sum(dim=(1, 2, 3))  # [N, P]
    fold = torch.zeros(per_pitch.shape[1], 12, device=fake.device)
    fold[torch.arange(per_pitch.shape[1]), (torch.arange(per_pitch.shape[1]) + lowest_pitch) % 12] = 1.0
    hist = per_pitch @ fold  # [N, 12]
    profiles = key_profiles(fake.device)  # [24, 12], centred and unit-norm
    centred = hist - hist.mean(dim=1, keepdim=True)
    r = centred @ profiles.T / (centred.norm(dim=1, keepdim=True) + 1e-6)  # [N, 24]
    soft_max = lambda x: torch.logsumexp(x * 50.0, dim=1) / 50.0  # noqa: E731 - a soft maximum over keys
    score = soft_max(r[:, :12]) - soft_max(r[:, 12:])
    return torch.nn.functional.softplus(-mood[:, 0] * score * sharpness).mean()


def diversity_loss(fake_a: torch.Tensor, fake_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """Mode-seeking loss (Mao et al. 2019, MSGAN): -log(mean |G(a) - G(b)| / mean |a - b|).

    Two latents that differ must give rolls that differ in proportion: a loss that
    pulls every phrase of a mood toward the one that best satisfies it (such as
    :func:`mode_loss`) collapses the generator unless something pushes back. The
    log makes the term scale-free (sparse rolls differ in few cells). Pairs share
    their mood; fake_* [N, ...], z_* [N, Z].
    """
    d_out = (fake_a - fake_b).abs().mean()
    d_z = (z_a - z_b).abs().mean()
    return -torch.log(d_out / d_z + 1e-5)


def key_profiles(device: torch.device) -> torch.Tensor:
    """The 24 rotated Krumhansl-Kessler profiles [24, 12] (12 major keys, then 12 minor), centred, unit norm."""
    from livegan.training.labels import MAJOR_PROFILE, MINOR_PROFILE

    rows = [torch.roll(torch.tensor(p, dtype=torch.float32), k) for p in (MAJOR_PROFILE, MINOR_PROFILE) for k in range(12)]
    stacked = torch.stack(rows)
    stacked = stacked - stacked.mean(dim=1, keepdim=True)
    return (stacked / stacked.norm(dim=1, keepdim=True)).to(device)
