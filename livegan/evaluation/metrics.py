"""Objective metrics for generated phrases: MuseGAN's (Dong et al. 2018) and a few more.

Pure numpy, vectorized over phrases, so an eval can score thousands of phrases in seconds.
:func:`phrase_metrics` is the one entry point the eval command uses; the functions below it
are its parts. Key finding, note density and beat chroma are :mod:`livegan.music.analysis`'s
(the live path's guidance uses them too).

Shapes and units
----------------
- ``rolls``: bool [N, tracks, bars, steps_per_bar, pitches] (a single phrase
  [tracks, bars, steps_per_bar, pitches] is accepted too). Pitch index 0 is MIDI note
  ``lowest_pitch``; time counts in steps of the grid (16 per bar by default).
- Per-track results are float arrays [tracks]; NaN where a track gives nothing to
  measure (e.g. no note at all).
- Notes are runs of active steps of one pitch across the bars of a phrase, exactly as
  :func:`livegan.music.roll.roll_to_notes` plays melodic tracks (a note may cross a bar line).

Differences from MuseGAN's code (``v1/musegan/eval/metrics.py``), on purpose
-------------------------------------------------------------------------------
- Pitch classes are ``(lowest_pitch + index) % 12``. MuseGAN reshapes the pitch axis as
  (12, 7), which groups 7 adjacent semitones instead of octaves (the "chroma bug").
- MuseGAN evaluates each bar alone (notes are cut at bar lines) and averages per-bar
  ratios; here QN and polyphony pool notes/steps over all phrases, TD pools beats.
- MuseGAN drops a whole bar from TD when any beat in it is silent in either track; here
  only the beats where both tracks sound are skipped.
"""

from __future__ import annotations

import math

import numpy as np

from livegan.model.contract import ModelInfo
from livegan.music.analysis import (
    analyse_modes,
    batch_of,
    beat_chroma,
    flat_time,
    note_density,
    onset_steps,
    pitch_class_fold,
    safe_ratio,
)

# Harte, Sandler & Gasser (2006): (angle per pitch-class step, radius) of the circle of
# fifths, the circle of minor thirds and the circle of major thirds.
_TONAL_CIRCLES = ((7 * np.pi / 6, 1.0), (3 * np.pi / 2, 1.0), (2 * np.pi / 3, 0.5))


# [6, 12]: rows r*sin, r*cos of each circle, one column per pitch class (0 = C).
TONAL_MATRIX = np.stack([f(np.arange(12) * angle) * r for angle, r in _TONAL_CIRCLES for f in (np.sin, np.cos)])


def empty_bar_rate(rolls: np.ndarray) -> np.ndarray:
    """EB: per track, the fraction of bars with no active step, in [0, 1].

    rolls: bool [N, tracks, bars, steps, pitches]. Returns float [tracks].
    """
    rolls = batch_of(rolls)
    empty = ~rolls.any(axis=(3, 4))  # [N, tracks, bars]
    return empty.mean(axis=(0, 2))


def used_pitch_classes(rolls: np.ndarray, lowest_pitch: int) -> np.ndarray:
    """UPC: per track, the mean number of distinct pitch classes (0-12) in a non-empty bar.

    Pitch class = (lowest_pitch + index) % 12, i.e. folded by octave of the real MIDI note.
    rolls: bool [N, tracks, bars, steps, pitches]. Returns float [tracks] (NaN: all bars empty).
    """
    rolls = batch_of(rolls)
    in_bar = rolls.any(axis=3).astype(float)  # [N, tracks, bars, pitches]
    classes = (in_bar @ pitch_class_fold(rolls.shape[-1], lowest_pitch) > 0).sum(axis=-1)  # [N, tracks, bars]
    return safe_ratio(classes.sum(axis=(0, 2)), (classes > 0).sum(axis=(0, 2)))


def scaled_min_steps(steps_per_bar: int, bar_fraction: float = 1 / 32) -> int:
    """Steps a note must last to be at least ``bar_fraction`` of a bar long (at least 1).

    The paper's qualified note is "no shorter than three time steps (i.e. a 32th note)" at
    96 steps per bar, so ``scaled_min_steps(96) == 3``. At 16 steps per bar a 32nd note
    is half a step, so the scaled threshold is 1 step and every note qualifies (QN = 1).
    MuseGAN's code used 2 steps at 96 per bar (a 48th of a bar), which also scales to 1.
    """
    return max(1, math.ceil(steps_per_bar * bar_fraction - 1e-9))


def qualified_note_rate(rolls: np.ndarray, min_steps: int) -> np.ndarray:
    """QN: per track, the share of notes lasting at least ``min_steps`` steps, in [0, 1].

    A note is a run of consecutive active steps of one pitch over the whole phrase (as
    :func:`livegan.music.roll.roll_to_notes` plays melodic tracks). The paper's threshold is a
    32nd note, which is below one step at 16 steps per bar (see :func:`scaled_min_steps`);
    use ``min_steps=steps_per_bar // 8`` (an 8th note, 2 steps at 16 per bar) for a
    threshold that still separates short fragments from held notes there.
    rolls: bool [N, tracks, bars, steps, pitches]. Returns float [tracks] (NaN: no note).
    """
    if not isinstance(min_steps, int) or min_steps < 1:
        raise ValueError(f"min_steps must be an integer >= 1, got {min_steps!r}")
    lanes = flat_time(batch_of(rolls))
    starts = onset_steps(lanes)
    qualified = starts.copy()  # a run starting at t lasts >= k steps iff steps t..t+k-1 all sound
    for offset in range(1, min_steps):
        ahead = np.zeros_like(lanes)
        ahead[..., :-offset, :] = lanes[..., offset:, :]
        qualified &= ahead
    return safe_ratio(qualified.sum(axis=(0, 2, 3)), starts.sum(axis=(0, 2, 3)))


def polyphony(rolls: np.ndarray) -> np.ndarray:
    """Per track, the mean number of pitches sounding together, over steps where any sounds.

    1.0 is monophonic. rolls: bool [N, tracks, bars, steps, pitches].
    Returns float [tracks] (NaN: the track never sounds).
    """
    counts = batch_of(rolls).sum(axis=-1)  # [N, tracks, bars, steps]
    return safe_ratio(counts.sum(axis=(0, 2, 3)), (counts > 0).sum(axis=(0, 2, 3)))


def polyphonic_rate(rolls: np.ndarray, min_pitches: int = 2) -> np.ndarray:
    """PP (MuseGAN's "polyphonicity"): per track, the share of steps with >= ``min_pitches``
    pitches sounding, over all steps of non-empty bars (as MuseGAN's code), in [0, 1].

    rolls: bool [N, tracks, bars, steps, pitches]. Returns float [tracks] (NaN: all bars empty).
    """
    counts = batch_of(rolls).sum(axis=-1)  # [N, tracks, bars, steps]
    non_empty = counts.any(axis=-1)  # [N, tracks, bars]
    return safe_ratio((counts >= min_pitches).sum(axis=(0, 2, 3)), non_empty.sum(axis=(0, 2)) * counts.shape[-1])


def _grid_weights(steps_per_bar: int, period: int, tolerance: int, near_weight: float) -> np.ndarray:
    """[period, steps_per_bar]: row i weighs each step of a bar for the grid shifted by i steps."""
    offset = (np.arange(steps_per_bar)[None, :] - np.arange(period)[:, None]) % period
    distance = np.minimum(offset, period - offset)
    return np.where(distance == 0, 1.0, np.where(distance <= tolerance, near_weight, 0.0))


def drum_pattern_rate(
    drum_rolls: np.ndarray,
    steps_per_bar: int,
    division: int = 16,
    tolerance: int | None = None,
    near_weight: float = 0.3,
    best_shift: bool = True,
) -> float:
    """DP: the share of drum hits on a grid of ``division`` notes per bar, MuseGAN-style.

    A hit on the grid counts 1, one within ``tolerance`` steps of it ``near_weight``.
    With ``best_shift`` the grid may be shifted (per bar) by whatever fraction of its
    period fits best, so a pattern played consistently off the grid still counts. Scored
    per bar with hits, then averaged over those bars. MuseGAN: 96 steps per bar,
    ``division=16``, ``tolerance=1``, ``near_weight=0.3``, best of 6 shifts; ``tolerance``
    defaults to that 96th of a bar, ``steps_per_bar // 96`` steps.
    At 16 steps per bar every step is a 16th, so DP with ``division=16`` is trivially 1;
    ``division=8`` (hits on the 8th-note grid, or consistently between it with the
    shift) is the informative variant there: straight 8ths score 1, straight 16ths 0.5.

    drum_rolls: bool [..., time, pitches], time a multiple of steps_per_bar (e.g. one
    drum track [N, bars, steps_per_bar, pitches]); every active cell is a hit, as
    :mod:`livegan.music.roll` plays drums. Returns a float in [0, 1] (NaN: no hit at all).
    """
    drum_rolls = np.asarray(drum_rolls)
    if drum_rolls.dtype != bool or drum_rolls.ndim < 2 or drum_rolls.shape[-2] % steps_per_bar:
        raise ValueError(f"drum_rolls must be bool [..., bars*{steps_per_bar}, pitches], got {drum_rolls.shape}")
    if steps_per_bar % division:
        raise ValueError(f"division must divide steps_per_bar={steps_per_bar}, got {division}")
    period = steps_per_bar // division
    tolerance = steps_per_bar // 96 if tolerance is None else tolerance
    if not 0 <= 2 * tolerance < period:
        raise ValueError(f"tolerance must be in [0, {(period - 1) // 2}] steps, got {tolerance}")
    hits = drum_rolls.sum(axis=-1).reshape(-1, steps_per_bar).astype(float)  # [bars, steps]
    scores = hits @ _grid_weights(steps_per_bar, period, tolerance, near_weight).T  # [bars, shifts]
    best = scores.max(axis=1) if best_shift else scores[:, 0]
    total = hits.sum(axis=1)
    return float(np.mean(best[total > 0] / total[total > 0])) if total.any() else math.nan


def tonal_centroid(chroma: np.ndarray) -> np.ndarray:
    """Harte (2006) 6-D tonal centroid of chroma vectors.

    chroma: float [..., 12], pitch class 0 = C, any non-negative weights (e.g. steps).
    It is L1-normalized, then projected on the circles of fifths, minor thirds and major
    thirds (angles 7pi/6, 3pi/2, 2pi/3 per semitone; radii 1, 1, 0.5), giving
    [..., 6] = (r sin, r cos) per circle. NaN where the chroma is all zero.
    """
    chroma = np.asarray(chroma, dtype=float)
    if chroma.shape[-1:] != (12,):
        raise ValueError(f"chroma must be [..., 12], got shape {chroma.shape}")
    normalized = safe_ratio(chroma, chroma.sum(axis=-1, keepdims=True))
    return normalized @ TONAL_MATRIX.T


def _mean_distance(cent_a: np.ndarray, cent_b: np.ndarray) -> float:
    """Mean Euclidean distance of [..., 6] centroids over entries where both are defined."""
    both = ~(np.isnan(cent_a).any(axis=-1) | np.isnan(cent_b).any(axis=-1))
    if not both.any():
        return math.nan
    return float(np.linalg.norm(cent_a[both] - cent_b[both], axis=-1).mean())


def tonal_distance(roll_a: np.ndarray, roll_b: np.ndarray, lowest_pitch: int, steps_per_beat: int) -> float:
    """TD: mean distance between two tracks' per-beat tonal centroids, over beats where both sound.

    roll_a, roll_b: bool [..., time, pitches] of the same shape (e.g. [N, bars, steps_per_bar,
    pitches] for one track of N phrases; bars are split into beats of steps_per_beat steps).
    Chroma is summed over each beat's steps and L1-normalized (:func:`tonal_centroid`).
    0 means the same harmony; the range is [0, 3]. Returns NaN if no beat has both sounding.
    """
    if np.shape(roll_a) != np.shape(roll_b):
        raise ValueError(f"rolls must have the same shape, got {np.shape(roll_a)} and {np.shape(roll_b)}")
    return _mean_distance(*(tonal_centroid(beat_chroma(r, lowest_pitch, steps_per_beat)) for r in (roll_a, roll_b)))


def tonal_distances(rolls: np.ndarray, lowest_pitch: int, steps_per_beat: int) -> np.ndarray:
    """TD for every pair of tracks: float [tracks, tracks], symmetric, TD[i, j] as :func:`tonal_distance`.

    rolls: bool [N, tracks, bars, steps, pitches]. The diagonal is 0 (NaN for a silent track).
    """
    lanes = flat_time(batch_of(rolls))
    centroids = tonal_centroid(beat_chroma(lanes, lowest_pitch, steps_per_beat))  # [N, tracks, beats, 6]
    tracks = lanes.shape[1]
    out = np.full((tracks, tracks), np.nan)
    for i in range(tracks):
        for j in range(i, tracks):
            out[i, j] = out[j, i] = _mean_distance(centroids[:, i], centroids[:, j])
    return out


def _drum_column(rolls: np.ndarray, drums: np.ndarray, steps_per_bar: int, division: int) -> np.ndarray:
    """[tracks]: :func:`drum_pattern_rate` for the drum track, NaN elsewhere or off this grid."""
    if steps_per_bar % division:
        return np.full(len(drums), np.nan)
    return np.array([drum_pattern_rate(rolls[:, i], steps_per_bar, division) if d else np.nan
                     for i, d in enumerate(drums)])


def _mode_summary(rolls: np.ndarray, drums: np.ndarray, lowest_pitch: int) -> tuple[np.ndarray, np.ndarray]:
    """(share of phrases whose melodic tracks analyse as major, mean score), each shape ()."""
    durations = rolls[:, ~drums].sum(axis=(1, 2, 3)) @ pitch_class_fold(rolls.shape[-1], lowest_pitch)  # [N, 12]
    is_major, score, tonic, _ = analyse_modes(durations)
    analysed = tonic >= 0
    if not analysed.any():
        return np.array(np.nan), np.array(np.nan)
    return np.array(is_major[analysed].mean()), np.array(score[analysed].mean())


def phrase_metrics(rolls: np.ndarray, info: ModelInfo) -> dict[str, np.ndarray]:
    """Every metric for a batch of generated phrases: the one place they are computed.

    rolls: bool [N, tracks, bars, steps_per_bar, pitches] in ``info``'s layout.
    Returns name -> float array. Per track [tracks] (NaN where it does not apply):
    ``empty_bar_rate``, ``note_density`` (all tracks); ``used_pitch_classes``,
    ``qualified_note_rate_32nd`` (the paper's threshold, scaled; trivially 1 at 16 steps per
    bar), ``qualified_note_rate_8th``, ``polyphony``, ``polyphonic_rate`` (melodic tracks);
    ``drum_pattern_16th`` (MuseGAN's DP; trivially 1 at 16 steps per bar),
    ``drum_pattern_8th`` (drum track). Pairwise [tracks, tracks]: ``tonal_distance``
    (melodic pairs). Per batch, shape (): ``major_rate`` (share of phrases whose melodic
    tracks together analyse as major) and ``mode_score`` (mean :class:`ModeEstimate` score).
    """
    rolls = batch_of(rolls)
    if rolls.shape[1:] != info.roll_shape:
        raise ValueError(f"rolls have shape {rolls.shape[1:]}, the model info says {info.roll_shape}")
    drums = np.array([t.is_drum for t in info.tracks], dtype=bool)
    spb, low = info.steps_per_bar, info.lowest_pitch
    td = tonal_distances(rolls, low, info.steps_per_beat)
    td[drums, :] = td[:, drums] = np.nan
    major_rate, mode_score = _mode_summary(rolls, drums, low)
    return {
        "empty_bar_rate": empty_bar_rate(rolls),
        "note_density": note_density(rolls, drums),
        "used_pitch_classes": np.where(drums, np.nan, used_pitch_classes(rolls, low)),
        "qualified_note_rate_32nd": np.where(drums, np.nan, qualified_note_rate(rolls, scaled_min_steps(spb, 1 / 32))),
        "qualified_note_rate_8th": np.where(drums, np.nan, qualified_note_rate(rolls, scaled_min_steps(spb, 1 / 8))),
        "polyphony": np.where(drums, np.nan, polyphony(rolls)),
        "polyphonic_rate": np.where(drums, np.nan, polyphonic_rate(rolls)),
        "drum_pattern_16th": _drum_column(rolls, drums, spb, 16),
        "drum_pattern_8th": _drum_column(rolls, drums, spb, 8),
        "tonal_distance": td,
        "major_rate": major_rate,
        "mode_score": mode_score,
    }
