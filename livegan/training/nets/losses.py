"""WGAN-GP losses (Gulrajani et al. 2017), as MuseGAN trains.

Critic: E[D(fake)] - E[D(real)] + lambda * E[(||grad D(x_hat)||_2 - 1)^2] on random
interpolates x_hat. Real, fake and interpolates go through the critic in one call,
so that DistributedDataParallel sees one forward per backward.
"""

from __future__ import annotations

import torch
from torch import nn


def critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, mood: torch.Tensor,
                gp_weight: float, head: nn.Module | None = None,
                head_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Critic loss for rolls [N, T, B, S, P] in [-1, 1] and moods [N, 2]; also the parts as floats for logging.

    With a ``head`` (AC-GAN, Odena et al. 2017), the critic's features of the real
    phrases must also predict their labels: ``head_weight`` x :func:`mood_error` is
    added, and its value is logged as ``aux``. Only real phrases train the head, so
    it learns what a mood sounds like in the data, never in the generator's output;
    ``aux_v`` and ``aux_a`` are its valence and arousal errors.
    """
    n = real.shape[0]
    alpha = torch.rand(n, 1, 1, 1, 1, device=real.device)
    between = (alpha * real + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores, features = critic(torch.cat([real, fake.detach(), between]), mood.repeat(3, 1), groups=3, features=True)
    s_real, s_fake, s_between = scores.split(n)
    (grad,) = torch.autograd.grad(s_between.sum(), between, create_graph=True)
    penalty = ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
    wasserstein = s_real.mean() - s_fake.mean()
    loss = -wasserstein + gp_weight * penalty
    parts = {"w": float(wasserstein.detach()), "gp": float(penalty.detach())}
    if head is not None:
        heard = head(features[:n], real)
        aux = mood_error(heard, mood)
        loss = loss + head_weight * aux
        valence_error, arousal_error = ((heard.detach() - mood) ** 2).mean(dim=0).tolist()
        parts |= {"aux": float(aux.detach()), "aux_v": valence_error, "aux_a": arousal_error}
    return loss, {"d": float(loss.detach()), **parts}


def generator_loss(critic: nn.Module, fake: torch.Tensor, mood: torch.Tensor,
                   head: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(-E[D(G(z, mood), mood)], and with a ``head`` the mood error of what it hears in the fakes, else None).

    Neither the critic's nor the head's parameters get a gradient: only the generator
    learns from these.
    """
    frozen = [*critic.parameters(), *(head.parameters() if head is not None else ())]
    for p in frozen:
        p.requires_grad_(False)
    try:
        scores, features = critic(fake, mood, features=True)
        return -scores.mean(), (mood_error(head(features, fake), mood) if head is not None else None)
    finally:
        for p in frozen:
            p.requires_grad_(True)


def mood_error(predicted: torch.Tensor, mood: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predicted and given moods [N, 2] (valence, arousal, both in [-1, 1])."""
    return torch.nn.functional.mse_loss(predicted, mood)


def mode_loss(fake: torch.Tensor, mood: torch.Tensor, drums: torch.Tensor, sharpness: float = 20.0) -> torch.Tensor:
    """Auxiliary loss that makes valence audible: softplus(-valence * mode score * sharpness), averaged.

    The mode score is the label rule's (best major minus best minor Krumhansl-Kessler
    correlation of the pitch-class durations, see :mod:`livegan.training.data.labels`),
    made differentiable: durations are the generator's note probabilities summed over
    the melodic tracks, and each best-of-12 is a soft maximum. fake [N, T, B, S, P] in
    [-1, 1], mood [N, 2], drums bool [T].
    """
    from livegan.training.nets.musegan import pitch_class_profile

    # the roll's lowest pitch need not be a C: the best of 12 rotated profiles is the same in any rotation
    hist = pitch_class_profile(fake[:, ~drums])  # [N, 12]
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
    from livegan.music.analysis import KK_MAJOR as MAJOR_PROFILE
    from livegan.music.analysis import KK_MINOR as MINOR_PROFILE

    rows = [torch.roll(torch.tensor(p, dtype=torch.float32), k) for p in (MAJOR_PROFILE, MINOR_PROFILE) for k in range(12)]
    stacked = torch.stack(rows)
    stacked = stacked - stacked.mean(dim=1, keepdim=True)
    return (stacked / stacked.norm(dim=1, keepdim=True)).to(device)
