"""Performance: generated phrases become bar-relative note events played in a mood."""

import numpy as np
from onnx_models import tiny_info

from livegan.mood.presets import Mood
from livegan.music.perform import (
    NOTE_OFF,
    NOTE_ON,
    perform_bar,
    phrase_notes,
    split_bars,
)
from livegan.music.roll import Note

INFO = tiny_info()  # tracks Drums (ch 9), Piano (ch 0), Bass (ch 1); 2 bars of 16 steps
PLAIN = Mood("plain", 0, 0, velocity=80, dynamics=0)


def test_phrase_notes_carry_their_onset_strength():
    probs = np.zeros(INFO.roll_shape, np.float32)
    probs[1, 0, 0:4, 12] = [0.9, 0.8, 0.8, 0.8]
    probs[0, 1, 8, 0] = 0.6
    notes = phrase_notes(probs, INFO)
    assert notes == [Note(0, 4, 60, 1, round(0.9 * 127)), Note(24, 25, 48, 0, round(0.6 * 127))]


def test_notes_are_grouped_by_the_bar_they_start_in_with_bar_relative_times():
    notes = [Note(2, 20, 60, 1), Note(17, 18, 62, 1), Note(31, 32, 64, 1)]
    assert split_bars(notes, INFO) == [[Note(2, 20, 60, 1)], [Note(1, 2, 62, 1), Note(15, 16, 64, 1)]]
    assert split_bars(notes, INFO, first_bar=1) == [[Note(1, 2, 62, 1), Note(15, 16, 64, 1)]]


def test_each_note_on_is_paired_with_a_later_note_off_on_the_track_channel():
    events = perform_bar([Note(0, 4, 60, 1, 100), Note(4, 5, 36, 0, 100)], INFO, PLAIN, bar_id=7)
    ons = [e for e in events if e.kind == NOTE_ON]
    offs = {e.key: e for e in events if e.kind == NOTE_OFF}
    assert [(e.channel, e.pitch) for e in ons] == [(0, 60), (9, 36)]
    for on in ons:
        assert offs[on.key].time > on.time and offs[on.key].channel == on.channel
    assert offs[ons[1].key].time == 4.5  # drums are short hits


def test_legato_shortens_notes_and_swing_delays_off_beat_sixteenths():
    mood = Mood("swung", 0, 0, swing=0.25, legato=0.5)
    events = perform_bar([Note(1, 5, 60, 1), Note(4, 6, 62, 1)], INFO, mood, bar_id=0)
    times = {(e.pitch, e.kind): e.time for e in events}
    assert times[(60, NOTE_ON)] == 1.25 and times[(60, NOTE_OFF)] == 3.0
    assert times[(62, NOTE_ON)] == 4.0 and times[(62, NOTE_OFF)] == 5.0


def test_velocity_follows_the_mood_accents_and_strength():
    loud, soft = Mood("loud", 0, 0, velocity=110, dynamics=10), Mood("soft", 0, 0, velocity=50, dynamics=10)
    notes = [Note(0, 1, 60, 1, 127), Note(5, 6, 60, 1, 64)]  # strong downbeat, weak off-beat
    v_loud = [e.velocity for e in perform_bar(notes, INFO, loud, 0) if e.kind == NOTE_ON]
    v_soft = [e.velocity for e in perform_bar(notes, INFO, soft, 0) if e.kind == NOTE_ON]
    assert v_loud[0] > v_loud[1] and min(v_loud) > max(v_soft)
    assert all(1 <= v <= 127 for v in v_loud + v_soft)


def test_at_equal_times_releases_come_before_new_notes():
    events = perform_bar([Note(0, 2, 60, 1), Note(2, 4, 60, 1)], INFO, PLAIN, bar_id=0)
    at_two = [e.kind for e in events if e.time == 2]
    assert at_two == [NOTE_OFF, NOTE_ON]
