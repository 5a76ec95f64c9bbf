"""MIDI learn: move a knob, it is mapped; the map round-trips through the saved file into `run`."""

import subprocess
import sys
import time

import mido
from onnx_models import build_model

from livegan.mood.controls import ControlMap, load_control_map, save_control_map
from livegan.mood.learn import Learner


def cc(control, value):
    return mido.Message("control_change", control=control, value=value)


def test_the_first_knob_that_moves_is_mapped_to_each_control_in_turn():
    learner = Learner(tracks=["Drums", "Piano"])
    assert learner.label(learner.current) == "mood preset"
    assert learner.feed(cc(74, 10)) is None  # first sight of a knob: not yet a move
    assert learner.feed(cc(74, 40)) == "preset_cc"
    assert learner.feed(cc(74, 90)) is None  # already mapped
    learner.feed(cc(71, 0)), learner.feed(cc(71, 64))
    learner.skip()  # arousal left unmapped
    learner.feed(cc(1, 0)), learner.feed(cc(1, 127))
    assert learner.label(learner.current) == "variation (a knob)"
    learner.feed(cc(16, 0)), learner.feed(cc(16, 127))
    assert learner.label(learner.current) == "freeze (a button, held)"
    learner.feed(cc(64, 0)), learner.feed(cc(64, 127))  # a sustain pedal makes a good freeze
    learner.feed(cc(85, 0)), learner.feed(cc(85, 127))
    learner.feed(cc(80, 0)), learner.feed(cc(80, 127))
    learner.feed(cc(81, 0)), learner.feed(cc(81, 127))
    assert learner.current is None
    controls = learner.control_map()
    assert (controls.preset_cc, controls.valence_cc, controls.arousal_cc, controls.density_cc) == (74, 71, None, 1)
    assert (controls.variation_cc, controls.freeze_cc, controls.idea_cc) == (16, 64, 85)
    assert controls.mute_cc == (80, 81)


def test_jitter_does_not_map_a_knob():
    learner = Learner(tracks=[])
    for value in (50, 51, 52, 51, 50):
        assert learner.feed(cc(7, value)) is None


def test_the_saved_map_loads_back_identically(tmp_path):
    controls = ControlMap(preset_cc=74, valence_cc=None, arousal_cc=1, density_cc=2, variation_cc=None, freeze_cc=64,
                          mute_cc=(82, 83), channel=2)
    path = tmp_path / "livegan" / "controls.toml"
    save_control_map(controls, path)
    assert load_control_map(path) == controls


def test_learn_over_jack_saves_a_map_that_run_finds(jack_server, jack_output, tmp_path):
    model = build_model(tmp_path / "m.onnx")
    env = dict(jack_server.env, XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.Popen([sys.executable, "-m", "livegan", "learn", "--api", "jack", "--model", str(model), "--wait", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        jack_server.wait_for_port("LiveGAN-in:LiveGAN In", timeout=20)
        out = jack_output("knobs", "keyboard")
        jack_server.connect("keyboard:knobs", "LiveGAN-in:LiveGAN In")
        time.sleep(0.3)
        for control in (30, 31):  # preset, then valence; the rest time out and are skipped
            out.send(cc(control, 0))
            out.send(cc(control, 100))
            time.sleep(0.3)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "CC 30" in stdout and "CC 31" in stdout and "skipped" in stdout
    learned = load_control_map(tmp_path / "config" / "livegan" / "controls.toml")
    assert (learned.preset_cc, learned.valence_cc, learned.arousal_cc) == (30, 31, None)
