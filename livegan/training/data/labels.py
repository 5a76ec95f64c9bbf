"""Mood labels: (valence, arousal) in [-1, 1] for each phrase.

Three ways to label, in the order a MIDI folder tries them:

- **file names** (EMOPIA): ``Q1_…`` to ``Q4_…`` give Russell quadrants, placed
  at the quadrant centres (Q1 = (+0.5, +0.5), Q2 = (-0.5, +0.5), Q3 = (-0.5, -0.5),
  Q4 = (+0.5, -0.5)).
- **a CSV** with columns ``file,valence,arousal`` (values in [-1, 1]).
- **computed** from the notes, for sources with no labels:

  * valence from the mode: the phrase's duration-weighted pitch-class histogram
    (melodic tracks) is correlated with the 24 rotated Krumhansl-Kessler key
    profiles; the raw score is best-major minus best-minor correlation, so > 0
    means the phrase analyses as major. It is divided by the 95th percentile of
    |score| over the dataset and clipped to [-1, 1], so its sign is the mode.
  * arousal from note density and tempo: the raw score is log2 of note onsets
    per second (all tracks; seconds from the tempo). It is replaced by its
    percentile rank in the dataset, mapped linearly to [-1, 1].

Pure numpy; no torch.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from livegan.errors import UserError
from livegan.music.analysis import key_correlations as key_correlations_of

QUADRANTS: dict[int, tuple[float, float]] = {1: (0.5, 0.5), 2: (-0.5, 0.5), 3: (-0.5, -0.5), 4: (0.5, -0.5)}
_QUADRANT_NAME = re.compile(r"^Q([1-4])_")


def pitch_class_histogram(roll: np.ndarray, lowest_pitch: int, drums: list[bool]) -> np.ndarray:
    """Active steps per pitch class [12] of the melodic tracks of a roll [T, ..., P] (pitch index 0 = ``lowest_pitch``)."""
    melodic = np.asarray(roll)[[i for i, d in enumerate(drums) if not d]]
    per_pitch = melodic.reshape(-1, melodic.shape[-1]).sum(axis=0).astype(np.float64)
    hist = np.zeros(12)
    np.add.at(hist, (np.arange(per_pitch.size) + lowest_pitch) % 12, per_pitch)
    return hist


def key_correlations(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of a pitch-class histogram [12] with each major and minor key: ([12], [12]), index = tonic.

    The Krumhansl-Kessler profiles and the correlation are :mod:`livegan.music.analysis`'s; a flat
    histogram (silence) gives zeros.
    """
    r = np.nan_to_num(key_correlations_of(np.asarray(hist, dtype=float)[None])[0])
    return r[:12], r[12:]


def mode_score(roll: np.ndarray, lowest_pitch: int, drums: list[bool]) -> float:
    """Best major minus best minor key correlation of a roll [T, ..., P]; > 0 reads as major, 0 for silence."""
    major, minor = key_correlations(pitch_class_histogram(roll, lowest_pitch, drums))
    return float(major.max() - minor.max())


def onsets_per_second(roll: np.ndarray, steps_per_beat: int, qpm: float) -> float:
    """Note onsets per second in a roll [T, steps, P] (a cell turning on), at ``qpm`` quarter notes a minute."""
    roll = np.asarray(roll, dtype=bool)
    onsets = roll[:, :1].sum() + (roll[:, 1:] & ~roll[:, :-1]).sum()
    seconds = roll.shape[1] / steps_per_beat * 60.0 / qpm
    return float(onsets) / seconds


def scale_valence(scores: np.ndarray) -> np.ndarray:
    """Raw mode scores [N] -> valence [N] in [-1, 1]: divided by the 95th percentile of |score|, clipped."""
    scores = np.asarray(scores, dtype=np.float64)
    scale = np.percentile(np.abs(scores), 95) if scores.size else 1.0
    return np.clip(scores / max(scale, 1e-6), -1.0, 1.0).astype(np.float32)


def scale_arousal(densities: np.ndarray) -> np.ndarray:
    """Onsets per second [N] -> arousal [N] in [-1, 1]: percentile rank of log2 density (ties share a rank)."""
    raw = np.log2(np.maximum(np.asarray(densities, dtype=np.float64), 1e-3))
    if raw.size < 2:
        return np.zeros(raw.size, dtype=np.float32)
    order = np.sort(raw)
    rank = (np.searchsorted(order, raw, "left") + np.searchsorted(order, raw, "right") - 1) / 2
    return (2.0 * rank / (raw.size - 1) - 1.0).astype(np.float32)


def quadrant_from_name(path: str | Path) -> tuple[float, float] | None:
    """EMOPIA file name ``Q{1-4}_<id>_<seg>.mid`` -> the quadrant's centre, else ``None``."""
    match = _QUADRANT_NAME.match(Path(path).name)
    return QUADRANTS[int(match.group(1))] if match else None


def read_label_csv(path: str | Path) -> dict[str, tuple[float, float]]:
    """CSV with columns ``file,valence,arousal`` -> {file stem: (valence, arousal)}; values must be in [-1, 1]."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"label file '{path}' does not exist: pass a CSV with columns file,valence,arousal")
    labels: dict[str, tuple[float, float]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "valence", "arousal"} <= set(reader.fieldnames):
            raise UserError(f"label file '{path}' needs the header file,valence,arousal, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            labels[Path(row["file"]).stem] = _label_row(path, line, row)
    return labels


def _label_row(path: Path, line: int, row: dict[str, str]) -> tuple[float, float]:
    try:
        point = (float(row["valence"]), float(row["arousal"]))
    except (TypeError, ValueError):
        raise UserError(f"label file '{path}' line {line}: valence and arousal must be numbers, got {row}") from None
    if not all(-1.0 <= v <= 1.0 for v in point):
        raise UserError(f"label file '{path}' line {line}: valence and arousal must be in [-1, 1], got {point}")
    return point
