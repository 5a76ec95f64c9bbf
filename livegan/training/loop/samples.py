"""Sample piano rolls written during training: an .npz of probabilities and notes and, with matplotlib, a PNG.

Samples use fixed latents (or, for a step model, fixed sampling noise) and the
named mood presets, so successive files of one run show the same phrases
maturing. The generator runs in eval mode, as exported.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from livegan.model.contract import Track

log = logging.getLogger(__name__)

# The daemon's named presets (configs/moods.toml): (valence, arousal).
PRESET_MOODS: dict[str, tuple[float, float]] = {
    "uplifting": (0.8, 0.6),
    "meditation": (0.3, -0.7),
    "nature-inspired": (0.5, -0.1),
    "bittersweet": (-0.5, -0.3),
}
SAMPLE_SEED = 20240601


def sample_inputs(latent_size: int, per_mood: int = 2) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Fixed z [M, Z], moods [M, 2] and a label per row (``per_mood`` rows for each preset)."""
    gen = torch.Generator().manual_seed(SAMPLE_SEED)
    names = [n for n in PRESET_MOODS for _ in range(per_mood)]
    z = torch.randn(len(names), latent_size, generator=gen)
    mood = torch.tensor([PRESET_MOODS[n] for n in names], dtype=torch.float32)
    return z, mood, names


@torch.no_grad()
def generate_probs(generator: nn.Module, z: torch.Tensor, mood: torch.Tensor, logits: bool = False) -> np.ndarray:
    """Eval-mode generation -> probabilities float32 [M, T, B, S, P] in [0, 1]; restores the previous mode.

    The generator's output is a roll in [-1, 1] (MuseGAN's tanh) or, with
    ``logits=True``, note logits (the VAE's decoder).
    """
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    out = generator(z.to(device), mood.to(device))
    generator.train(was_training)
    probs = torch.sigmoid(out) if logits else (out + 1.0) * 0.5
    return probs.cpu().numpy().astype(np.float32)


def save_samples(folder: Path, step: int, probs: np.ndarray, notes: np.ndarray, mood: torch.Tensor, names: list[str],
                 tracks: tuple[Track, ...], lowest_pitch: int) -> Path:
    """Write ``step_NNNNNNN.npz`` (and ``.png`` of ``notes`` when matplotlib is installed) under ``folder``.

    probs float32 [M, T, B, S, P] in [0, 1] (a step model's are each note's
    probability given the notes sampled before it); notes [M, T, B, S, P], the notes
    that sound (thresholded or sampled); mood [M, 2]; a name per row.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:07d}.npz"
    np.savez_compressed(path, probs=probs, notes=notes.astype(bool), mood=mood.numpy(), names=np.array(names))
    titles = [f"{n} (valence {m[0]:+.1f}, arousal {m[1]:+.1f})" for n, m in zip(names, mood.tolist())]
    render_png(notes.astype(bool), path.with_suffix(".png"), tracks, lowest_pitch, titles)
    return path


def render_png(rolls: np.ndarray, path: Path, tracks: tuple[Track, ...], lowest_pitch: int, titles: list[str]) -> Path | None:
    """Boolean rolls [M, T, B, S, P] -> one PNG: a row per phrase, tracks in colours, bar lines dotted."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.debug("matplotlib is not installed; no PNG for %s", path)
        return None
    m, t, b, s, p = rolls.shape
    colours = np.array([[0.85, 0.2, 0.2], [0.95, 0.6, 0.1], [0.2, 0.6, 0.3], [0.2, 0.3, 0.85], [0.6, 0.2, 0.7]])
    fig, axes = plt.subplots(m, 1, figsize=(10, 2.2 * m), squeeze=False)
    for row, ax in enumerate(axes[:, 0]):
        image = np.ones((p, b * s, 3))
        for track in range(t):
            on = rolls[row, track].reshape(b * s, p).T
            image[on] = colours[track % len(colours)]
        ax.imshow(image, origin="lower", aspect="auto", interpolation="nearest",
                  extent=(0, b * s, lowest_pitch - 0.5, lowest_pitch + p - 0.5))
        for x in range(s, b * s, s):
            ax.axvline(x, color="0.6", lw=0.5, ls=":")
        ax.set_title(titles[row] if row < len(titles) else "", fontsize=8, loc="left")
        ax.set_ylabel("MIDI pitch", fontsize=7)
    axes[-1, 0].set_xlabel("step (" + ", ".join(f"{tr.name}" for tr in tracks) + ")", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
