"""Cut songs into fixed-size phrases, and transpose phrases (augmentation).

A phrase is a boolean array [tracks, bars, steps_per_bar, n_pitches] that starts
on a bar line; pitch index 0 is MIDI note ``lowest_pitch``. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from livegan.music.dataset import DataConfig
from livegan.training.data.song import Song


def cut_phrases(song: Song, grid: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every kept phrase of a song.

    Windows of ``grid.bars`` bars start every ``grid.hop_bars`` bars. A window is
    kept when it holds at least ``grid.min_notes`` note onsets inside the pitch
    window and at most ``grid.max_empty_bars`` bars that are silent in all tracks.

    Returns
    -------
    phrases : bool [n, tracks, bars, steps_per_bar, n_pitches]
    starts : int [n], first bar of each phrase in the song.
    """
    window = song.roll[:, :, grid.lowest_pitch:grid.lowest_pitch + grid.n_pitches]
    bar, length = grid.steps_per_bar, grid.phrase_steps
    kept, starts = [], []
    for first in range(0, max(song.steps - length, -1) + 1, grid.hop_bars * bar):
        phrase = window[:, first:first + length]
        if phrase.shape[1] < length or not _keep(phrase, grid):
            continue
        kept.append(phrase.reshape(phrase.shape[0], grid.bars, bar, grid.n_pitches))
        starts.append(first // bar)
    shape = (0, song.roll.shape[0], grid.bars, bar, grid.n_pitches)
    return (np.stack(kept) if kept else np.zeros(shape, dtype=bool)), np.array(starts, dtype=np.int32)


def cut_voices(song: Song, grid: DataConfig, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A monophonic song's onsets and fermatas for the phrases starting at bars ``starts``.

    Returns onsets bool [n, tracks, bars, steps_per_bar, n_pitches] and fermatas bool [n, bars, steps_per_bar].
    """
    bar, length = grid.steps_per_bar, grid.phrase_steps
    window = song.onsets[:, :, grid.lowest_pitch:grid.lowest_pitch + grid.n_pitches]
    onsets = [window[:, s * bar:s * bar + length].reshape(window.shape[0], grid.bars, bar, -1) for s in starts]
    fermatas = [song.fermatas[s * bar:s * bar + length].reshape(grid.bars, bar) for s in starts]
    shape = (0, song.roll.shape[0], grid.bars, bar, grid.n_pitches)
    return (np.stack(onsets) if onsets else np.zeros(shape, dtype=bool),
            np.stack(fermatas) if fermatas else np.zeros((0, grid.bars, bar), dtype=bool))


def _keep(phrase: np.ndarray, grid: DataConfig) -> bool:
    """phrase [tracks, steps, pitches] -> whether it has enough notes and few enough silent bars."""
    onsets = phrase[:, :1].sum() + (phrase[:, 1:] & ~phrase[:, :-1]).sum()
    if onsets < grid.min_notes:
        return False
    bars = phrase.reshape(phrase.shape[0], grid.bars, -1).any(axis=(0, 2))
    return int((~bars).sum()) <= grid.max_empty_bars


def transpose(phrase: np.ndarray, semitones: int, drums: np.ndarray) -> np.ndarray:
    """Shift the melodic tracks of a phrase [T, ..., P] by ``semitones``; notes pushed out of the window vanish."""
    out = np.zeros_like(phrase)
    melodic = ~np.asarray(drums, dtype=bool)
    p = phrase.shape[-1]
    if semitones >= 0:
        out[melodic, ..., semitones:] = phrase[melodic, ..., :p - semitones]
    else:
        out[melodic, ..., :p + semitones] = phrase[melodic, ..., -semitones:]
    out[~melodic] = phrase[~melodic]
    return out


def pitch_extent(phrases: np.ndarray, drums: np.ndarray) -> np.ndarray:
    """Lowest and highest active pitch index of each phrase's melodic tracks: int [n, 2] (-1, -1 when silent)."""
    melodic = phrases[:, ~np.asarray(drums, dtype=bool)]
    active = melodic.reshape(melodic.shape[0], -1, melodic.shape[-1]).any(axis=1)  # [n, P]
    p = active.shape[1]
    low = np.where(active.any(1), active.argmax(1), -1)
    high = np.where(active.any(1), p - 1 - active[:, ::-1].argmax(1), -1)
    return np.stack([low, high], axis=1).astype(np.int32)


def allowed_shifts(extent: np.ndarray, n_pitches: int, limit: int) -> tuple[int, int]:
    """Range (low, high) of semitone shifts within ``[-limit, limit]`` that keep a phrase's notes in the window."""
    low, high = int(extent[0]), int(extent[1])
    if low < 0:
        return 0, 0
    return max(-limit, -low), min(limit, n_pitches - 1 - high)
