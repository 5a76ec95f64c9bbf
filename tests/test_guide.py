"""Mood guidance: of a few nearby phrases, the daemon plays the one that sounds like the mood."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.generation.guide import MoodGuide
from livegan.generation.latent import LatentWalk
from livegan.model.engine import OnnxGenerator
from livegan.shipped import model_file
from livegan.music.analysis import phrase_modes


@pytest.fixture(scope="module")
def generator() -> OnnxGenerator:
    return OnnxGenerator(model_file("musegan.onnx"))  # guidance serves the phrase models


def phrase(info, pitches: list[int], every: int = 4) -> np.ndarray:
    """A phrase holding ``pitches`` (MIDI) in every track, struck every ``every`` steps for 2 steps."""
    roll = np.zeros((len(info.tracks), info.bars, info.steps_per_bar, info.n_pitches), dtype=bool)
    for start in range(0, info.steps_per_bar, every):
        for pitch in pitches:
            roll[:, :, start:start + 2, pitch - info.lowest_pitch] = True
    return roll


def test_positive_valence_picks_the_major_phrase_and_negative_the_minor(generator):
    info = generator.info
    c_major = phrase(info, [60, 64, 67, 72, 76, 79, 62, 65, 71])  # C E G, with D F B passing
    c_minor = phrase(info, [60, 63, 67, 72, 75, 79, 62, 65, 70])  # C Eb G, with D F Bb
    rolls = np.stack([c_minor, c_major])
    guide = MoodGuide(info, candidates=2)
    assert guide.choose(rolls, valence=0.8, arousal=0.0) == 1
    assert guide.choose(rolls, valence=-0.8, arousal=0.0) == 0


def test_arousal_picks_the_denser_phrase_and_calm_the_sparser(generator):
    info = generator.info
    chord = [60, 64, 67]
    rolls = np.stack([phrase(info, chord, every=8), phrase(info, chord, every=4)])
    guide = MoodGuide(info, candidates=2)
    assert guide.choose(rolls, valence=0.0, arousal=0.9) == 1
    assert guide.choose(rolls, valence=0.0, arousal=-0.9) == 0


def test_a_neutral_mood_keeps_the_walks_own_phrase(generator):
    info = generator.info
    rolls = np.stack([phrase(info, [60, 63, 67]), phrase(info, [60, 64, 67], every=8)])
    assert MoodGuide(info, candidates=2).choose(rolls, valence=0.0, arousal=0.0) == 0


def test_candidates_start_with_the_walks_latent_and_are_reproducible_per_phrase(generator):
    walk = LatentWalk(generator.latents, seed=3)
    base = walk.phrase(0)
    guide = MoodGuide(generator.info, candidates=8, seed=5)
    first, again = guide.latents(base, 0), guide.latents(base, 0)
    other_phrase = guide.latents(base, 1)
    for name, z in base.items():
        assert first[name].shape == (8, *z.shape[1:]) and first[name].dtype == np.float32
        np.testing.assert_array_equal(first[name][0], z[0])
        np.testing.assert_array_equal(first[name], again[name])
        assert not np.array_equal(first[name][1:], other_phrase[name][1:])
    assert MoodGuide(generator.info, candidates=1).latents(base, 0) is base


def test_many_neighbours_stay_distributed_like_the_latents_the_model_was_trained_on(generator):
    base = {s.name: np.random.default_rng(0).standard_normal((1, *s.shape), dtype=np.float32) for s in generator.latents}
    z = np.concatenate([MoodGuide(generator.info, candidates=64, seed=s).latents(base, 0)[next(iter(base))][1:]
                        for s in range(20)])
    # Around one base latent the neighbours are N(keep * z0, spread^2): check that spread.
    assert np.std(z - np.sqrt(1 - 0.25) * base[next(iter(base))]) == pytest.approx(0.5, abs=0.02)


def test_guided_shipped_model_plays_major_for_positive_valence_and_minor_for_negative(generator):
    """The real model through real ONNX Runtime: unguided its mode is at chance (models/default.md)."""
    info = generator.info
    guide = MoodGuide(info, candidates=8, seed=0)

    def major_share(valence: float) -> float:
        walk = LatentWalk(generator.latents, seed=1)
        picks = []
        for k in range(40):
            latents = guide.latents(walk.phrase(k), k)
            probs = generator.generate(latents, np.tile(np.array([[valence, 0.0]], dtype=np.float32), (8, 1)))
            rolls = probs > info.threshold
            picks.append(rolls[guide.choose(rolls, valence, 0.0)])
        is_major, _, analysed = phrase_modes(np.stack(picks), info)
        return float(is_major[analysed].mean())

    assert major_share(0.8) >= 0.75 and major_share(-0.8) <= 0.25
