"""Cutting songs into phrases, transposition, and the dataset file."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.errors import UserError
from livegan.model.contract import Track
from livegan.music.dataset import DataConfig, PhraseSet, load_phrases
from livegan.music.roll import Note
from livegan.training.data.phrases import (
    allowed_shifts,
    cut_phrases,
    pitch_extent,
    transpose,
)
from livegan.training.data.song import separate_repeats, song_from_notes

GRID = DataConfig(bars=2, steps_per_beat=4, lowest_pitch=24, n_pitches=72, hop_bars=1, min_notes=2)


def quarter_notes(bars: int, pitch: int = 60, track: int = 0) -> list[Note]:
    return [Note(4 * i, 4 * i + 4, pitch, track) for i in range(4 * bars)]


def test_a_song_is_cut_into_overlapping_phrases_on_bar_lines():
    song = song_from_notes("s", quarter_notes(5), 1, 120.0)
    phrases, starts = cut_phrases(song, GRID)
    assert phrases.shape == (4, 1, 2, 16, 72) and phrases.dtype == bool
    assert starts.tolist() == [0, 1, 2, 3]


def test_repeated_notes_keep_their_onsets():
    song = song_from_notes("s", quarter_notes(2), 1, 120.0)
    lane = song.roll[0, :, 60]
    assert lane[:8].tolist() == [True, True, True, False, True, True, True, False]
    tied = separate_repeats([Note(0, 4, 60, 0), Note(4, 8, 62, 0)])
    assert [n.end for n in tied] == [4, 8]  # a different pitch follows: nothing shortened


def test_phrases_with_silent_bars_or_too_few_notes_are_dropped():
    notes = quarter_notes(2) + [Note(48, 52, 60, 0)]  # bars 0-1 full, bar 2 silent, bar 3 one note
    phrases, starts = cut_phrases(song_from_notes("s", notes, 1, 120.0), GRID)
    assert starts.tolist() == [0]
    sparse = DataConfig(bars=2, min_notes=9, max_empty_bars=0)
    assert len(cut_phrases(song_from_notes("s", quarter_notes(2), 1, 120.0), sparse)[0]) == 0


def test_notes_outside_the_pitch_window_are_left_out():
    notes = quarter_notes(2, pitch=10) + quarter_notes(2, pitch=60)
    phrases, _ = cut_phrases(song_from_notes("s", notes, 1, 120.0), GRID)
    assert phrases[0, 0].any(axis=(0, 1)).nonzero()[0].tolist() == [60 - 24]


def test_transposition_moves_melodic_tracks_and_leaves_drums():
    phrase = np.zeros((2, 2, 16, 72), dtype=bool)
    phrase[0, :, :, 30] = True  # drums
    phrase[1, :, :, 30] = True
    up = transpose(phrase, 3, np.array([True, False]))
    assert up[0, 0, 0].nonzero()[0].tolist() == [30]
    assert up[1, 0, 0].nonzero()[0].tolist() == [33]
    assert transpose(up, -3, np.array([True, False])).tolist() == phrase.tolist()


def test_allowed_shifts_keep_every_note_inside_the_window():
    phrase = np.zeros((1, 1, 2, 1, 72), dtype=bool)
    phrase[0, 0, 0, 0, [2, 70]] = True
    extent = pitch_extent(phrase, np.array([False]))
    assert extent.tolist() == [[2, 70]]
    assert allowed_shifts(extent[0], 72, 5) == (-2, 1)


def test_a_dataset_file_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    phrases = rng.random((3, 2, 2, 16, 72)) > 0.9
    data = PhraseSet(phrases, rng.uniform(-1, 1, (3, 2)).astype(np.float32), np.array([0, 0, 1]),
                     np.array([0, 1, 0]), ["a", "b"], GRID, (Track("Lead", 40), Track("Drums", 0, True)),
                     {"sources": ["test"]})
    loaded = load_phrases(data.save(tmp_path / "d.npz"))
    assert loaded.phrases.tolist() == phrases.tolist()
    assert loaded.labels.tolist() == data.labels.tolist()
    assert loaded.tracks == data.tracks and loaded.grid == GRID and loaded.songs == ["a", "b"]
    assert loaded.drums.tolist() == [False, True]


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_a_foreign_or_missing_dataset_is_one_clear_error(tmp_path, content):
    path = tmp_path / "foreign.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match="foreign.npz") as err:
        load_phrases(path)
    assert "livegan data build" in str(err.value)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(UserError, match="not a LiveGAN phrase dataset"):
        load_phrases(tmp_path / "other.npz")
