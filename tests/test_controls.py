"""MIDI control of the mood: program changes pick presets, knobs move the point, later wins."""

import mido
import pytest

from livegan.errors import UserError
from livegan.mood.controls import (
    ControlMap,
    ControlState,
    cc_to_unit,
    load_control_map,
    resolve_mood,
)
from livegan.mood.presets import Mood, find_mood, load_moods

PRESETS = [Mood("a", 0.5, 0.5), Mood("b", -0.5, -0.5, velocity=60), Mood("c", 0.0, 0.9)]


def mood_after(*messages, controls=ControlMap()):
    state = ControlState(controls, len(PRESETS))
    for msg in messages:
        state.record(msg)
    return resolve_mood(state.snapshot(), PRESETS)


def test_program_change_n_selects_preset_n_wrapping_around():
    assert mood_after(mido.Message("program_change", program=1)).name == "b"
    assert mood_after(mido.Message("program_change", program=4)).name == "b"  # 4 % 3


def test_preset_knob_sweeps_through_presets_in_order():
    names = [mood_after(mido.Message("control_change", control=20, value=v)).name for v in (0, 42, 43, 85, 86, 127)]
    assert names == ["a", "a", "b", "b", "c", "c"]


def test_valence_and_arousal_knobs_move_the_point_and_keep_the_rendering():
    mood = mood_after(mido.Message("program_change", program=1),
                      mido.Message("control_change", control=21, value=127),
                      mido.Message("control_change", control=22, value=0))
    assert (mood.name, mood.valence, mood.arousal, mood.velocity) == ("b", 1.0, -1.0, 60)


def test_a_program_change_after_a_knob_resets_the_point_to_the_preset():
    mood = mood_after(mido.Message("control_change", control=21, value=0), mido.Message("program_change", program=2))
    assert mood.point == (0.0, 0.9)


def test_every_change_bumps_the_version_and_unrelated_messages_do_not():
    state = ControlState(ControlMap(), 3)
    assert state.record(mido.Message("note_on", note=60)) is False
    assert state.record(mido.Message("control_change", control=7, value=100)) is False
    assert state.snapshot().version == 0 and state.ignored == 2
    state.record(mido.Message("control_change", control=21, value=3))
    assert state.snapshot().version == 1


def test_a_channel_filter_ignores_other_channels():
    controls = ControlMap(channel=4)
    assert mood_after(mido.Message("program_change", channel=3, program=1), controls=controls).name == "a"
    assert mood_after(mido.Message("program_change", channel=4, program=1), controls=controls).name == "b"


def test_system_messages_are_ignored_not_raised():
    state = ControlState(ControlMap(), 3)
    for msg in (mido.Message("clock"), mido.Message("sysex", data=[1, 2]), mido.Message("start")):
        assert state.record(msg) is False


def test_cc_scale_has_a_true_centre_and_reaches_both_ends():
    assert (cc_to_unit(0), cc_to_unit(64), cc_to_unit(127)) == (-1.0, 0.0, 1.0)


def test_shipped_presets_include_the_named_moods_in_all_quadrants():
    moods = load_moods()
    for name in ("uplifting", "meditation", "nature-inspired", "bittersweet"):
        assert find_mood(moods, name.upper()).name == name
    assert {(m.valence > 0, m.arousal > 0) for m in moods} == {(True, True), (True, False), (False, True), (False, False)}
    assert load_control_map() == ControlMap()


def test_bad_config_files_name_the_file_and_the_problem(tmp_path):
    bad = tmp_path / "moods.toml"
    bad.write_text('[[mood]]\nname = "x"\nvalence = 3\narousal = 0\n')
    with pytest.raises(UserError, match=r"moods.toml', mood #1: mood 'x': valence must be in \[-1.0, 1.0\], got 3"):
        load_moods(bad)
    bad.write_text("not toml = = ")
    with pytest.raises(UserError, match="is not valid TOML"):
        load_moods(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_moods(tmp_path / "missing.toml")
    controls = tmp_path / "controls.toml"
    controls.write_text("[controls]\nvalence_cc = 200\n")
    with pytest.raises(UserError, match="valence_cc must be a CC number 0-127, got 200"):
        load_control_map(controls)
    with pytest.raises(UserError, match="unknown mood 'sad': choose one of"):
        find_mood(load_moods(), "sad")


def test_the_performance_controls_a_player_expects():
    from livegan.mood.controls import ControlState, resolve_mood

    presets = [Mood("a", 0.5, 0.0)]
    state = ControlState(ControlMap(), n_presets=1)
    cc = lambda control, value: mido.Message("control_change", control=control, value=value)
    assert state.record(cc(19, 0)) and resolve_mood(state.snapshot(), presets).variation == 0.0  # loop-like
    assert state.record(cc(19, 127)) and resolve_mood(state.snapshot(), presets).variation == 1.0  # restless
    assert state.record(cc(81, 127)) and not state.record(cc(81, 0))  # a press, then its release
    assert resolve_mood(state.snapshot(), presets).idea == 1, "each press is one new idea"
    state.record(cc(80, 127))
    assert state.snapshot().frozen
    state.record(cc(80, 0))
    assert not state.snapshot().frozen
    state.record(cc(123, 0))
    state.record(cc(120, 0))
    assert state.snapshot().panics == 2, "All Notes Off and All Sound Off on the input are panics"


def test_mapping_a_control_to_a_panic_cc_is_refused():
    with pytest.raises(ValueError, match="panic"):
        ControlMap(freeze_cc=123)
