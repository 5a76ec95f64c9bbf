"""Piano roll <-> notes: held notes merge, drums are hits, and the round trip is exact."""

import numpy as np
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from livegan.music.roll import (
    Note,
    binarize,
    flatten_bars,
    notes_to_roll,
    roll_to_notes,
)


def test_consecutive_active_steps_merge_into_one_held_note():
    roll = np.zeros((1, 8, 4), dtype=bool)
    roll[0, 1:4, 2] = True  # three steps of pitch index 2
    roll[0, 5, 2] = True  # a separate one-step note
    assert roll_to_notes(roll, 60, [False]) == [Note(1, 4, 62, 0), Note(5, 6, 62, 0)]


def test_drum_steps_are_separate_one_step_hits():
    roll = np.zeros((1, 4, 2), dtype=bool)
    roll[0, 0:3, 0] = True  # three 16th hits on the kick
    assert roll_to_notes(roll, 36, [True]) == [Note(0, 1, 36, 0), Note(1, 2, 36, 0), Note(2, 3, 36, 0)]


def test_notes_are_sorted_by_time_across_tracks():
    roll = np.zeros((2, 4, 3), dtype=bool)
    roll[1, 0, 0] = roll[0, 2, 1] = roll[1, 3, 2] = True
    notes = roll_to_notes(roll, 48, [False, False])
    assert [(n.start, n.track) for n in notes] == [(0, 1), (2, 0), (3, 1)]


def test_threshold_is_strict_and_bars_lay_end_to_end():
    probs = np.array([0.2, 0.5, 0.51])
    assert binarize(probs, 0.5).tolist() == [False, False, True]
    phrase = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    flat = flatten_bars(phrase)
    assert flat.shape == (2, 12, 5)
    assert (flat[1, 4:8] == phrase[1, 1]).all()


@settings(max_examples=60, deadline=None)
@given(arrays(bool, (2, 16, 6)))
def test_melodic_roll_survives_the_round_trip(roll):
    notes = roll_to_notes(roll, 40, [False, False])
    assert (notes_to_roll(notes, 2, 16, 40, 6) == roll).all()
    assert all(n.length >= 1 for n in notes)


def test_notes_outside_the_window_are_cut_or_dropped():
    notes = [Note(-2, 2, 60, 0), Note(3, 9, 61, 0), Note(0, 1, 99, 0)]
    roll = notes_to_roll(notes, 1, 6, 60, 4)
    assert roll[0, :, 0].tolist() == [1, 1, 0, 0, 0, 0]
    assert roll[0, :, 1].tolist() == [0, 0, 0, 1, 1, 1]
    assert roll.sum() == 5
