"""Mood labels: EMOPIA names, CSV files, and the computed valence/arousal rule."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.errors import UserError
from livegan.training.data import labels

C_MAJOR = [60, 64, 67, 72, 62, 65, 69, 71]  # C E G C' and the rest of the scale
A_MINOR = [57, 60, 64, 69, 59, 62, 65, 68]  # A C E A' and the harmonic-minor scale


def roll_of(pitches: list[int], lowest: int = 24, steps: int = 64) -> np.ndarray:
    """One melodic track [1, steps, 72]: the first four pitches held as a chord, the rest as a line."""
    roll = np.zeros((1, steps, 72), dtype=bool)
    for p in pitches[:4]:
        roll[0, : steps // 2, p - lowest] = True
    for i, p in enumerate(pitches[4:]):
        roll[0, steps // 2 + 8 * i: steps // 2 + 8 * i + 8, p - lowest] = True
    return roll


def test_a_major_phrase_scores_positive_and_a_minor_phrase_negative():
    assert labels.mode_score(roll_of(C_MAJOR), 24, [False]) > 0
    assert labels.mode_score(roll_of(A_MINOR), 24, [False]) < 0


def test_silence_and_drums_have_no_mode():
    assert labels.mode_score(np.zeros((1, 16, 72), bool), 24, [False]) == 0.0
    assert labels.mode_score(roll_of(C_MAJOR), 24, [True]) == 0.0


def test_onsets_per_second_counts_note_starts_at_the_tempo():
    roll = np.zeros((1, 16, 72), dtype=bool)
    roll[0, 0:4, 10] = roll[0, 8:12, 10] = True  # two notes in 4 beats
    assert labels.onsets_per_second(roll, steps_per_beat=4, qpm=120) == pytest.approx(1.0)  # 2 notes / 2 s


def test_valence_keeps_the_sign_of_the_mode_score_within_unit_range():
    valence = labels.scale_valence(np.array([-0.4, -0.05, 0.0, 0.02, 0.3]))
    assert np.all(np.sign(valence) == np.sign([-0.4, -0.05, 0.0, 0.02, 0.3]))
    assert valence.min() >= -1 and valence.max() <= 1


def test_arousal_is_the_density_rank_mapped_to_unit_range():
    arousal = labels.scale_arousal(np.array([4.0, 1.0, 2.0, 8.0, 2.0]))
    assert arousal.tolist() == pytest.approx([0.5, -1.0, -0.25, 1.0, -0.25])


@pytest.mark.parametrize("name, point", [
    ("Q1_abcdefghijk_0.mid", (0.5, 0.5)), ("Q2_abcdefghijk_3.mid", (-0.5, 0.5)),
    ("Q3_abcdefghijk_1.midi", (-0.5, -0.5)), ("Q4_abcdefghijk_2.mid", (0.5, -0.5)),
    ("song.mid", None), ("Q5_abcdefghijk_0.mid", None),
])
def test_emopia_file_names_give_quadrant_centres(name, point):
    assert labels.quadrant_from_name(name) == point


def test_a_label_csv_maps_file_stems_to_points(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,valence,arousal\nsongs/a.mid,0.5,-0.25\nb,-1,1\n")
    assert labels.read_label_csv(path) == {"a": (0.5, -0.25), "b": (-1.0, 1.0)}


@pytest.mark.parametrize("body, words", [
    ("name,v,a\nx,0,0\n", "header file,valence,arousal"),
    ("file,valence,arousal\nx,2,0\n", "line 2"),
    ("file,valence,arousal\nx,happy,0\n", "must be numbers"),
])
def test_a_bad_label_csv_is_one_clear_error(tmp_path, body, words):
    path = tmp_path / "labels.csv"
    path.write_text(body)
    with pytest.raises(UserError, match=words) as err:
        labels.read_label_csv(path)
    assert "labels.csv" in str(err.value) and "\n" not in str(err.value)
