"""The player's keys: chords that settle and latch as an arranger keyboard's do, and phrases that end in silence."""

import mido

from livegan.mood.player import PlayerState


def play(state: PlayerState, *events: tuple[float, str, int]) -> None:
    for at, kind, pitch in events:
        msg = mido.Message("note_on", note=pitch, velocity=90) if kind == "on" else mido.Message("note_off", note=pitch)
        state.record(msg, at)


def test_a_chord_struck_a_little_unevenly_is_one_chord_once_it_settles():
    state = PlayerState()
    play(state, (0.000, "on", 48), (0.010, "on", 64), (0.025, "on", 67))
    assert state.chord_at(0.050) is None, "not settled 25 ms after the last key"
    chord = state.chord_at(0.070)
    assert chord.pitches == (48, 64, 67) and chord.pitch_classes == (0, 4, 7) and chord.bass == 0


def test_releasing_keys_one_by_one_keeps_the_chord_and_all_up_lets_it_go():
    state = PlayerState()
    play(state, (0.0, "on", 60), (0.0, "on", 64), (0.0, "on", 67), (1.0, "off", 67), (1.05, "off", 64))
    assert state.chord_at(1.2).pitches == (60, 64, 67), "the chord latches"
    play(state, (1.1, "off", 60))
    assert state.chord_at(1.3).pitches == (60, 64, 67), "all keys up, but not for long"
    assert state.chord_at(1.5) is None, "all keys up for 0.3 s: the model chooses again"


def test_a_chord_changed_within_one_driver_period_is_the_new_chord_not_a_release():
    state = PlayerState()  # JACK stamps every event of one period with one time: the old keys up, the new down
    play(state, (0.0, "on", 48), (0.0, "on", 52), (0.0, "on", 55),
         (6.0, "off", 48), (6.0, "off", 52), (6.0, "off", 55), (6.0, "on", 41), (6.0, "on", 45), (6.0, "on", 48))
    assert state.chord_at(6.1).pitches == (41, 45, 48)
    assert state.chord_at(12.0).pitches == (41, 45, 48), "held: never let go"


def test_a_single_key_is_a_passing_touch_and_a_dyad_after_a_chord_is_accepted():
    state = PlayerState()
    play(state, (0.0, "on", 60), (0.0, "on", 63), (0.0, "on", 67))  # C minor
    play(state, (0.1, "off", 60), (0.1, "off", 63), (0.1, "off", 67), (0.2, "on", 65), (0.2, "on", 67))  # F + G
    assert state.chord_at(0.3).pitches == (65, 67)
    play(state, (0.5, "off", 65), (0.5, "off", 67), (0.6, "on", 72))
    assert state.chord_at(0.7).pitches == (65, 67), "one key does not replace a chord"


def test_notes_on_another_channel_than_the_followed_one_are_left_to_the_controls():
    state = PlayerState(channel=0)
    assert not state.record(mido.Message("note_on", note=60, velocity=90, channel=1), 0.0)
    assert not state.record(mido.Message("control_change", control=21, value=3), 0.0)
    assert state.record(mido.Message("note_on", note=60, velocity=90, channel=0), 0.0)


def test_a_phrase_is_complete_after_a_silence_and_starts_after_the_silence_before_it():
    state = PlayerState()
    play(state, (0.0, "on", 60), (0.4, "off", 60))  # an earlier phrase
    play(state, (3.0, "on", 62), (3.5, "off", 62), (3.5, "on", 64), (4.0, "off", 64))
    assert state.phrase_at(4.5, silence=2.0) is None, "not yet a bar of silence"
    phrase = state.phrase_at(6.1, silence=2.0)
    assert [n.pitch for n in phrase] == [62, 64] and phrase[0].start == 3.0 and phrase[-1].end == 4.0
    play(state, (6.2, "on", 65))
    assert state.phrase_at(6.3, silence=2.0) is None, "a key is down: a new phrase is being played"
