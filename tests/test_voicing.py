"""Part-writing figures, on tiny hand-written pieces whose answers a musician can read off the page."""

import pytest

from livegan.evaluation.voicing import Grid, piece_figures, summarise
from livegan.music.roll import Note

GRID = Grid(steps_per_beat=4, beats_per_bar=4, phrase_bars=1)  # every bar is a phrase here
C_MAJOR = (72, 67, 64, 48)  # S A T B


def chord(start: int, end: int, pitches=C_MAJOR) -> list[Note]:
    return [Note(start, end, p, v) for v, p in enumerate(pitches)]


def figures(notes, bars=1):
    return summarise([piece_figures(notes, 4, bars, GRID)])


def test_a_held_four_part_chord_sounds_every_voice_and_ends_its_phrase():
    f = figures(chord(0, 16))
    assert f["all_voices_sound"] == 1.0 and f["held_phrase_ends"] == 1.0
    assert f["polyphonic_steps_mean"] == 0.0 and f["eighth_or_longer_mean"] == 1.0 and f["max_pitches"] == 1


def test_a_chord_struck_again_on_every_16th_of_the_last_half_bar_does_not_land():
    notes = chord(0, 8) + [n for t in range(8, 16) for n in chord(t, t + 1)]
    f = figures(notes)
    assert f["held_phrase_ends"] == 0.0 and f["eighth_or_longer_mean"] < 0.2


def test_two_pitches_in_one_voice_count_as_polyphony_of_that_voice():
    notes = chord(0, 16) + [Note(0, 8, 76, 0)]
    f = figures(notes)
    assert f["polyphonic_steps"][0] == 0.5 and f["polyphonic_steps"][1:] == [0.0, 0.0, 0.0] and f["max_pitches"] == 2


def test_an_alto_above_the_soprano_is_out_of_order_where_both_sound():
    notes = chord(0, 16, (72, 74, 64, 48))  # alto on D5 over a C5 soprano
    f = figures(notes)
    assert f["out_of_order"] == [1.0, 0.0, 0.0] and f["any_out_of_order"] == 1.0


def test_stepwise_motion_counts_moves_of_up_to_two_semitones_repeats_included():
    soprano = [Note(0, 4, 72, 0), Note(4, 8, 74, 0), Note(8, 12, 74, 0), Note(12, 16, 79, 0)]
    f = figures(soprano + chord(0, 16)[1:])
    assert f["stepwise"][0] == pytest.approx(2 / 3)


def test_a_bar_that_repeats_the_bar_before_repeats_all_its_notes():
    f = figures(chord(0, 16) + chord(16, 32), bars=2)
    assert f["repeated_from_previous_bar"] == 1.0


def test_parallel_fifths_between_soprano_and_bass_are_counted_among_joint_moves():
    first = chord(0, 8, (67, 64, 60, 48))  # G over C: a fifth (plus octaves)
    second = chord(8, 16, (69, 65, 60, 50))  # A over D: a fifth again, both moved
    f = figures(first + second)
    joint = piece_figures(first + second, 4, 1, GRID)
    assert joint["parallel"] >= 1 and f["parallel_perfect"] > 0
