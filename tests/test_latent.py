"""The latent walk: reproducible, stationary, and phrases keep their latent when regenerated."""

import numpy as np
import pytest

from livegan.generation.latent import LatentWalk
from livegan.model.engine import LatentSpec

SPECS = (LatentSpec("z", (64,)), LatentSpec("z_t", (2, 8)))


def test_same_seed_same_walk():
    a, b = LatentWalk(SPECS, seed=5), LatentWalk(SPECS, seed=5)
    for i in range(4):
        assert all(np.array_equal(a.phrase(i)[k], b.phrase(i)[k]) for k in ("z", "z_t"))


def test_shapes_have_a_batch_axis():
    walk = LatentWalk(SPECS, seed=0)
    assert walk.phrase(0)["z"].shape == (1, 64) and walk.phrase(0)["z_t"].shape == (1, 2, 8)


def test_neighbouring_phrases_are_close_but_the_walk_stays_standard_normal():
    walk = LatentWalk((LatentSpec("z", (256,)),), seed=1, step=0.3)
    zs = np.concatenate([walk.phrase(i)["z"] for i in range(400)])
    neighbour = np.corrcoef(zs[:-1].ravel(), zs[1:].ravel())[0, 1]
    assert neighbour == pytest.approx(np.sqrt(1 - 0.3**2), abs=0.02)
    assert zs.std() == pytest.approx(1.0, abs=0.05)


def test_a_regenerated_phrase_gets_the_same_latent():
    walk = LatentWalk(SPECS, seed=2)
    first = walk.phrase(3)["z"].copy()
    walk.phrase(5)
    assert np.array_equal(walk.phrase(3)["z"], first)


def test_long_gone_phrases_are_not_kept_forever():
    walk = LatentWalk(SPECS, seed=2, keep=4)
    walk.phrase(20)
    with pytest.raises(KeyError):
        walk.phrase(2)
