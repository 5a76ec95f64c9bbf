"""Musical analysis of piano rolls, the one place it lives: key profiles, modes, densities, ranks.

Rolls are bool or float arrays [..., tracks, bars, steps, pitches] (pitch index 0 =
``lowest_pitch``). The Krumhansl-Kessler key finding here is what mood guidance
(:mod:`livegan.generation.guide`), the evaluation (:mod:`livegan.evaluation`) and the
dataset's mood labels (:mod:`livegan.training.data.labels`) all use. numpy only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from livegan.model.contract import ModelInfo

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first (as in music21).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])


KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


class ModeEstimate(NamedTuple):
    """Result of :func:`analyse_mode`.

    ``score`` is the best major-key correlation minus the best minor-key one, in [-2, 2]:
    > 0 reads as major. ``tonic`` is the pitch class (0 = C) of the best of the 24 keys,
    ``correlation`` that key's Pearson correlation with its profile.
    """

    mode: str
    score: float
    tonic: int
    correlation: float


def batch_of(rolls: np.ndarray) -> np.ndarray:
    """Check a boolean roll and give it the batch axis: -> [N, tracks, bars, steps, pitches]."""
    rolls = np.asarray(rolls)
    if rolls.dtype != bool:
        raise ValueError(f"rolls must be boolean (binarize first), got dtype {rolls.dtype}")
    if rolls.ndim == 4:
        rolls = rolls[np.newaxis]
    if rolls.ndim != 5:
        raise ValueError(f"rolls must be [N, tracks, bars, steps, pitches], got shape {rolls.shape}")
    return rolls


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise as float, NaN where den is 0 (without a warning)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def pitch_class_fold(n_pitches: int, lowest_pitch: int) -> np.ndarray:
    """[n_pitches, 12] one-hot: roll index -> pitch class of MIDI note lowest_pitch + index."""
    fold = np.zeros((n_pitches, 12))
    fold[np.arange(n_pitches), (lowest_pitch + np.arange(n_pitches)) % 12] = 1.0
    return fold


def flat_time(rolls: np.ndarray) -> np.ndarray:
    """[N, tracks, bars, steps, pitches] -> [N, tracks, bars * steps, pitches]."""
    n, tracks, bars, steps, pitches = rolls.shape
    return rolls.reshape(n, tracks, bars * steps, pitches)


def onset_steps(lanes: np.ndarray) -> np.ndarray:
    """Bool [..., time, pitches] -> True where a note starts (active, and not active the step before)."""
    previous = np.zeros_like(lanes)
    previous[..., 1:, :] = lanes[..., :-1, :]
    return lanes & ~previous


def note_density(rolls: np.ndarray, drums: np.ndarray | list[bool] | None = None) -> np.ndarray:
    """Per track, the mean number of note onsets per bar (over all bars, empty ones too).

    Melodic tracks count held notes (runs of active steps); a drum track (``drums[i]``
    True) counts every active cell as a hit, as :mod:`livegan.music.roll` plays them.
    rolls: bool [N, tracks, bars, steps, pitches]. Returns float [tracks], notes per bar.
    """
    rolls = batch_of(rolls)
    n, tracks, bars = rolls.shape[:3]
    drums = np.zeros(tracks, dtype=bool) if drums is None else np.asarray(drums, dtype=bool)
    if drums.shape != (tracks,):
        raise ValueError(f"drums must give one flag per track ({tracks}), got {drums.shape}")
    lanes = flat_time(rolls)
    hits = np.where(drums[None, :, None, None], lanes, onset_steps(lanes))
    return hits.sum(axis=(0, 2, 3)) / (n * bars)


def beat_chroma(roll: np.ndarray, lowest_pitch: int, steps_per_beat: int) -> np.ndarray:
    """Bool [..., time, pitches] -> float [..., beats, 12]: active steps per pitch class per beat."""
    roll = np.asarray(roll)
    time, pitches = roll.shape[-2:]
    if time % steps_per_beat:
        raise ValueError(f"time axis ({time} steps) must be a multiple of steps_per_beat={steps_per_beat}")
    per_beat = roll.reshape(*roll.shape[:-2], time // steps_per_beat, steps_per_beat, pitches).sum(axis=-2)
    return per_beat @ pitch_class_fold(pitches, lowest_pitch)


def _key_profiles() -> np.ndarray:
    """[24, 12]: KK profiles rotated to every tonic; rows 0-11 major on C..B, 12-23 minor."""
    return np.stack([np.roll(p, tonic) for p in (KK_MAJOR, KK_MINOR) for tonic in range(12)])


def key_correlations(pc_durations: np.ndarray) -> np.ndarray:
    """Pearson correlation of pitch-class distributions [M, 12] (0 = C) with the 24 keys: [M, 24].

    Columns 0-11 are major on C..B, 12-23 minor (as :func:`_key_profiles`); a flat row (e.g.
    silence) correlates with nothing and gives NaN.
    """
    x = np.asarray(pc_durations, dtype=float)
    profiles = _key_profiles()
    xc = x - x.mean(axis=-1, keepdims=True)
    pc = profiles - profiles.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(xc, axis=-1, keepdims=True) * np.linalg.norm(pc, axis=-1)  # [M, 24]
    return safe_ratio(xc @ pc.T, norm)


def analyse_modes(pc_durations: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Krumhansl-Kessler key finding for many pitch-class distributions at once.

    pc_durations: float [M, 12], steps sounded per pitch class (0 = C). Returns
    (is_major bool [M], score float [M], tonic int [M], correlation float [M]) as in
    :class:`ModeEstimate`; score, tonic and correlation are NaN / -1 where a row is flat
    (e.g. silent), and is_major is then False.
    """
    r = key_correlations(pc_durations)
    flat = np.isnan(r).any(axis=-1)
    r = np.where(flat[:, None], 0.0, r)
    best = r.argmax(axis=-1)
    score = np.where(flat, np.nan, r[:, :12].max(axis=-1) - r[:, 12:].max(axis=-1))
    correlation = np.where(flat, np.nan, r[np.arange(len(r)), best])
    return (score > 0) & ~flat, score, np.where(flat, -1, best % 12), correlation


def analyse_mode(roll: np.ndarray, lowest_pitch: int) -> ModeEstimate:
    """Major or minor, by Krumhansl-Kessler key-profile correlation over pitch-class durations.

    roll: bool [..., pitches] (e.g. the melodic tracks of a phrase, [tracks, bars, steps,
    pitches]; leave drums out). Each active cell adds one step to its pitch class; the
    durations are correlated with the 24 major and minor key profiles. Raises ValueError
    for a roll whose pitch classes all sound equally long (silence included).
    """
    roll = np.asarray(roll)
    durations = roll.reshape(-1, roll.shape[-1]).sum(axis=0) @ pitch_class_fold(roll.shape[-1], lowest_pitch)
    is_major, score, tonic, correlation = analyse_modes(durations[None])
    if tonic[0] < 0:
        raise ValueError("cannot analyse the mode of a roll with a flat pitch-class profile (e.g. silence)")
    return ModeEstimate("major" if is_major[0] else "minor", float(score[0]), int(tonic[0]), float(correlation[0]))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties get their average rank); NaN when either side is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=float)), _ranks(np.asarray(y, dtype=float))
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, ranks) / counts)[inverse]


def phrase_densities(rolls: np.ndarray, info: ModelInfo) -> np.ndarray:
    """Notes per bar of each phrase, all tracks together: float [N] (via :func:`note_density`)."""
    n, t = rolls.shape[:2]
    drums = np.array([tr.is_drum for tr in info.tracks])
    per_track = note_density(rolls.reshape(1, n * t, *rolls.shape[2:]), np.tile(drums, n))
    return per_track.reshape(n, t).sum(axis=1)


def phrase_modes(rolls: np.ndarray, info: ModelInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per phrase, its melodic tracks' key analysis: (is_major bool [N], score [N], analysed bool [N])."""
    melodic = ~np.array([tr.is_drum for tr in info.tracks])
    n = len(rolls)
    if not melodic.any():
        return np.zeros(n, bool), np.full(n, np.nan), np.zeros(n, bool)
    lanes = rolls[:, melodic].reshape(n, -1, info.n_pitches)  # [N, melodic tracks * steps, P]
    durations = beat_chroma(lanes, info.lowest_pitch, info.steps_per_beat).sum(axis=-2)  # [N, 12]
    is_major, score, tonic, _ = analyse_modes(durations)
    return is_major, score, tonic >= 0
