"""Monophonic voices: one pitch or a rest per voice and step, a held note distinct from a repeated one."""

import numpy as np
import pytest

from livegan.music.roll import Note
from livegan.music.voices import (
    REST,
    from_classes,
    from_roll,
    n_classes,
    notes_to_voices,
    roll_of,
    to_classes,
    to_planes,
    voices_to_notes,
    well_formed,
)

P = 12


def test_a_held_note_and_a_repeated_note_are_different_music():
    held = [Note(0, 4, 60, 0)]
    repeated = [Note(0, 2, 60, 0), Note(2, 4, 60, 0)]
    a = notes_to_voices(held, 1, 4, 60, P)
    b = notes_to_voices(repeated, 1, 4, 60, P)
    assert (a[0] == b[0]).all()  # the same pitch sounds
    assert a[1].tolist() == [[True, False, False, False]] and b[1].tolist() == [[True, False, True, False]]
    assert voices_to_notes(*a, 60) == held and voices_to_notes(*b, 60) == repeated


def test_notes_round_trip_through_voices_with_rests():
    notes = [Note(0, 3, 62, 0), Note(5, 8, 64, 0), Note(0, 8, 50, 1), Note(8, 9, 50, 1)]
    pitch, onset = notes_to_voices(notes, 2, 10, 48, 24)
    assert pitch[0, 3] == REST and not onset[0, 3]
    assert voices_to_notes(pitch, onset, 48) == sorted(notes)


def test_overlapping_notes_in_one_voice_sound_the_latest_struck():
    pitch, onset = notes_to_voices([Note(0, 4, 60, 0), Note(2, 6, 64, 0)], 1, 6, 60, P)
    assert pitch[0].tolist() == [0, 0, 4, 4, 4, 4] and onset[0].tolist() == [True, False, True, False, False, False]
    assert voices_to_notes(pitch, onset, 60) == [Note(0, 2, 60, 0), Note(2, 6, 64, 0)]


def test_a_hold_after_a_rest_or_another_pitch_starts_a_note():
    pitch = np.array([[REST, 3, 3, 5]], np.int16)
    onset = np.zeros_like(pitch, bool)
    assert voices_to_notes(pitch, onset, 60) == [Note(1, 3, 63, 0), Note(3, 4, 65, 0)]
    assert well_formed(pitch, onset)[1].tolist() == [[False, True, False, True]]


def test_classes_are_struck_held_and_rest_and_round_trip():
    pitch = np.array([[0, 0, 11, REST, 11]], np.int16)
    onset = np.array([[True, False, True, False, True]])
    classes = to_classes(pitch, onset, P)
    assert classes.tolist() == [[0, P + 0, 11, 2 * P, 11]] and n_classes(P) == 2 * P + 1
    back = from_classes(classes, P)
    assert (back[0] == pitch).all() and (back[1] == onset).all()


def test_planes_show_the_pitch_sounding_and_struck_with_the_rest_on_the_last_row():
    pitch = np.array([[2, 2, REST]], np.int16)
    onset = np.array([[True, False, False]])
    planes = to_planes(pitch, onset, P)
    assert planes.shape == (1, 2, 3, P + 1)
    assert planes[0, 0, :, 2].tolist() == [1, 1, 0] and planes[0, 0, 2, P] == 1
    assert planes[0, 1].sum() == 1 and planes[0, 1, 0, 2] == 1  # struck once


@pytest.mark.parametrize("with_onsets", [True, False])
def test_a_monophonic_roll_and_its_onsets_read_back_as_voices(with_onsets):
    pitch = np.array([[1, 1, REST, 4, 4]], np.int16)
    onset = np.array([[True, True, False, True, False]])
    roll = roll_of(pitch, P)
    assert roll.sum(-1).max() == 1
    back = from_roll(roll, roll & onset[..., None] if with_onsets else None)
    assert (back[0] == pitch).all()
    expected = onset if with_onsets else np.array([[True, False, False, True, False]])  # no onsets: a run is one note
    assert (back[1] == expected).all()


def test_a_batch_of_voice_grids_reads_time_along_its_last_axis():
    pitch = np.array([[[4, 4, 4], [4, 4, 4]]], np.int16)  # [N=1, V=2, T=3]: two voices on one pitch, held
    onset = np.array([[[True, False, False], [True, False, False]]])
    assert (well_formed(pitch, onset)[1] == onset).all(), "a voice is not 'struck' because the voice above sounds the same"
    assert (to_classes(pitch, onset, P)[0, 1] == [4, P + 4, P + 4]).all()
