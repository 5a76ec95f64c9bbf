"""Chords: symbols and held keys as pitch classes, named as a musician reads them; a chord chart steers the voices."""

import mido
import numpy as np
import pytest

from livegan.errors import UserError
from livegan.generation.infill import steering
from livegan.music.chords import chord_name, chord_of, parse_chord, parse_progression
from livegan.mood.presets import Mood


@pytest.mark.parametrize("symbol, classes, bass", [
    ("C", (0, 4, 7), 0), ("Am", (0, 4, 9), 9), ("F#m7", (1, 4, 6, 9), 6), ("Bb/D", (2, 5, 10), 2),
    ("G7", (2, 5, 7, 11), 7), ("Cmaj7", (0, 4, 7, 11), 0), ("Edim", (4, 7, 10), 4), ("Csus4", (0, 5, 7), 0),
])
def test_a_chord_symbol_is_its_pitch_classes_and_its_bass(symbol, classes, bass):
    chord = parse_chord(symbol)
    assert chord.pitch_classes == classes and chord.bass == bass and chord.name == symbol


def test_held_keys_name_their_chord_with_the_lowest_as_bass():
    assert chord_of([48, 64, 67]).name == "C"
    assert chord_of([52, 60, 67]).name == "C/E"  # first inversion
    assert chord_of([57, 60, 64, 67]).name == "Am7"
    assert chord_of([]) is None and chord_name([0, 1, 2]) == "{C C# D}"


def test_a_progression_is_one_chord_a_bar_and_a_bad_symbol_one_clear_error():
    chords = parse_progression("C G | Am, F N")
    assert [c.name if c else None for c in chords] == ["C", "G", "Am", "F", None]
    with pytest.raises(UserError, match="'H7' is not a chord symbol"):
        parse_progression("C H7")


def test_a_held_chord_raises_its_tones_in_every_voice_and_its_bass_in_the_lowest(tiny_infill_info):
    info = tiny_infill_info
    mood = Mood("m", 0.0, 0.0).harmonized((0, 4, 7), bass=4, avoid=(64,))
    bias = steering(info, mood)
    p = info.n_pitches
    pitch = lambda midi: midi - info.lowest_pitch
    assert bias[0, 0, pitch(60)] > 0 and bias[0, 0, p + pitch(67)] > 0 and bias[0, 0, pitch(62)] == 0
    assert bias[3, 0, pitch(52)] > bias[0, 0, pitch(52)], "the bass's pitch class weighs more in the lowest voice"
    assert bias[:, 0, pitch(64)].max() < -10 and bias[:, 0, pitch(76)].min() > 0, "the held E4 is never doubled; E5 may be"
    assert bias[:, 0, 2 * p].max() == 0, "rests are left to the model"
    assert steering(info, Mood("m", 0.0, 0.0)) is None


@pytest.mark.parametrize("args, words", [
    (["--follow", "chords", "--chords", "C"], "needs an infill model"),
    (["--chords", "C G"], "--chords goes with --follow chords"),
])
def test_following_chords_is_refused_in_one_line_where_it_cannot_work(tmp_path, capsys, args, words):
    from onnx_models import build_model

    from livegan.cli import main

    gan = build_model(tmp_path / "gan.onnx")
    with pytest.raises(SystemExit) as exit_:
        main(["render", "--model", str(gan), *args, "-o", str(tmp_path / "x.mid")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and words in err and err.count("\n") == 1
