"""Shared tiny fixtures for the training and export tests (a small dataset and a small config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livegan.music.dataset import DataConfig, PhraseSet
from livegan.training.config import (
    CoconetConfig,
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
TINY_COCONET = CoconetConfig(channels=8, blocks=3)  # 3 blocks see 15 steps either way: a bar
TINY_MODELS = {"musegan": TINY_MODEL, "lstm": TINY_LSTM, "vae": TINY_VAE, "coconet": TINY_COCONET}
GRID = DataConfig()
VOICE_GRID = DataConfig(lowest_pitch=36, n_pitches=48, monophonic=True)


def tiny_config(arch: str = "musegan", **train: object) -> Config:
    """A tiny network of ``arch`` trained 4 steps of 4 phrases, with checkpoints and samples every 2."""
    settings = dict(steps=4, batch_size=4, log_every=1, sample_every=2, checkpoint_every=2, threads=1)
    return Config(VOICE_GRID if arch == "coconet" else GRID, TINY_MODELS[arch], TrainConfig(**{**settings, **train}))


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


def tiny_voice_dataset(path: Path, count: int = 12) -> Path:
    """Four monophonic voices holding a triad per bar (struck on its downbeat), fermatas on beat 3 of bars 2 and 4."""
    phrases = chord_phrases(count)[..., 12:12 + VOICE_GRID.n_pitches]  # MIDI 36.. of the 72 rows from 24
    onsets = np.zeros_like(phrases)
    onsets[:, :, :, 0] = phrases[:, :, :, 0]
    fermatas = np.zeros((count, 4, 16), dtype=bool)
    fermatas[:, 1::2, 8:12] = True
    rng = np.random.default_rng(1)
    data = PhraseSet(phrases, rng.uniform(-1, 1, (count, 2)).astype(np.float32), np.arange(count, dtype=np.int32),
                     np.zeros(count, dtype=np.int32), [f"chords {i}" for i in range(count)], VOICE_GRID, SATB_TRACKS,
                     {"sources": ["synthetic chords"], "label_rule": "random"}, onsets, fermatas)
    return data.save(path)
