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
