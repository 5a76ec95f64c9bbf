"""Shared tiny fixtures for the training and export tests (a small dataset and a small config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livegan.music.dataset import DataConfig, PhraseSet
from livegan.training.config import (
    Config,
    LstmConfig,
    ModelConfig,
    TrainConfig,
    VaeConfig,
)
from livegan.training.data.song import SATB_TRACKS

TINY_MODEL = ModelConfig(z_shared=8, z_temporal=8, z_private=4, z_private_temporal=4, temporal_hidden=16,
                         g_trunk=(16, 16, 8), g_branch=4, d_track=4, d_chroma=4, d_merged=(8, 8, 8, 16))
TINY_LSTM = LstmConfig(hidden=16, layers=2, dropout=0.1)
TINY_VAE = VaeConfig(latent=8, enc_track=4, enc_merged=(8, 16), dec_trunk=(16, 8, 8), dec_branch=4, kl_warmup=2)
TINY_MODELS = {"musegan": TINY_MODEL, "lstm": TINY_LSTM, "vae": TINY_VAE}
GRID = DataConfig()


def tiny_config(arch: str = "musegan", **train: object) -> Config:
    """A tiny network of ``arch`` trained 4 steps of 4 phrases, with checkpoints and samples every 2."""
    settings = dict(steps=4, batch_size=4, log_every=1, sample_every=2, checkpoint_every=2, threads=1)
    return Config(GRID, TINY_MODELS[arch], TrainConfig(**{**settings, **train}))


def chord_phrases(count: int, seed: int = 0) -> np.ndarray:
    """Four voices holding a triad per bar, major or minor at random: bool [count, 4, 4, 16, 72]."""
    rng = np.random.default_rng(seed)
    phrases = np.zeros((count, 4, 4, 16, 72), dtype=bool)
    for n in range(count):
        for bar in range(4):
            root = int(rng.integers(0, 12)) + 36
            third = 3 if rng.random() < 0.5 else 4
            for voice, pitch in enumerate((root + 24, root + 12 + 7, root + 12 + third, root)):
                phrases[n, voice, bar, :, pitch - 24] = True
    return phrases


def tiny_dataset(path: Path, count: int = 12) -> Path:
    rng = np.random.default_rng(1)
    data = PhraseSet(chord_phrases(count), rng.uniform(-1, 1, (count, 2)).astype(np.float32),
                     np.zeros(count, dtype=np.int32), np.zeros(count, dtype=np.int32), ["chords"], GRID,
                     SATB_TRACKS, {"sources": ["synthetic chords"], "label_rule": "random"})
    return data.save(path)
