"""The daemon against a real JACK server, recorded by a real JACK client (jack_record.py).

One end-to-end take: ``livegan run`` in its own process, with torch made
unimportable, plays a tiny ONNX model to its virtual port; the test sends a
program change into "LiveGAN In" mid-bar, then SIGINT. The recording must show
notes on the 16th grid at the configured tempo, the new mood from the next bar
line, and a note-off for every note-on followed by All Notes Off.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import mido
import numpy as np
import pytest
from daemonkit import IN, OUT, note_pairs
from onnx_models import build_model

BPM = 150
STEP_S = 60 / BPM / 4
BAR_S = STEP_S * 16
MOODS = """
[[mood]]
name = "bright"
valence = 0.8
arousal = 0.6
velocity = 100
dynamics = 10

[[mood]]
name = "dark"
valence = -0.6
arousal = -0.5
velocity = 50
dynamics = 10
programs = { Piano = 48 }
"""


def test_daemon_streams_on_the_grid_switches_mood_at_the_next_bar_and_releases_on_sigint(
        tmp_path, jack_server, midi_dump, daemon_factory, jack_output):
    model = build_model(tmp_path / "tiny.onnx", bias=-3.0)
    moods = tmp_path / "moods.toml"
    moods.write_text(MOODS)
    daemon = daemon_factory("--model", str(model), "--moods", str(moods), "--bpm", str(BPM), "--seed", "1", "-q")
    jack_server.wait_for_port(OUT, timeout=20)
    jack_server.wait_for_port(IN, timeout=5)
    control = jack_output("control", "tester")
    dump = midi_dump(source=OUT)
    jack_server.connect("tester:control", dump.port)  # controls are recorded on the same timeline
    jack_server.connect("tester:control", IN)
    bar1 = daemon.wait_line("bar 1: mood bright")
    # Send the program change 40% into bar 3: bars 4 and 5 are already generated in "bright".
    time.sleep(max(0.0, bar1 + 2.4 * BAR_S - time.perf_counter()))
    control.send(mido.Message("program_change", channel=15, program=1))
    daemon.wait_line("bar 4: mood dark", timeout=3 * BAR_S + 5)
    time.sleep(1.3 * BAR_S)
    assert daemon.stop(signal.SIGINT) == 0, daemon.log
    time.sleep(0.3)
    events = dump.stop()

    assert any("stopped after" in line for line in daemon.log), daemon.log
    assert not any("Traceback" in line or "ImportError" in line for line in daemon.log), daemon.log
    frames = jack_server.sample_rate
    msgs = [(e, mido.Message.from_bytes(list(e.data))) for e in events]
    pc_in = [e.frame for e, m in msgs if m.type == "program_change" and m.channel == 15]
    pc_out = [e.frame for e, m in msgs if m.type == "program_change" and m.channel == 0 and m.program == 48]
    assert len(pc_in) == 1 and len(pc_out) == 1, [m for _, m in msgs if m.type == "program_change"]
    bar4 = pc_out[0]  # the dark mood's instrument change marks bar 4's first frame

    # The program change arrived during bar 3 and took effect at the next bar line.
    assert bar4 - BAR_S * frames < pc_in[0] < bar4

    # Note-ons sit on the 16th grid of the configured tempo. JACK delivers MIDI at the start of a
    # 128-frame period (2.7 ms), and the dummy driver's frame clock can run a little slow on a busy
    # machine, so the grid is fitted (frames against step number) and judged by its residuals.
    onsets = np.array([e.frame for e, m in msgs if m.type == "note_on" and m.velocity])
    assert len(onsets) > 30
    step_number = np.round((onsets - bar4) / (STEP_S * frames))
    slope, intercept = np.polyfit(step_number, onsets, 1)
    residual_ms = np.abs(onsets - (slope * step_number + intercept)) / frames * 1e3
    period_ms = jack_server.period_seconds * 1e3
    assert np.median(residual_ms) < period_ms + 2, (np.sort(residual_ms)[-10:], jack_server.xruns())
    assert slope / frames == pytest.approx(STEP_S, rel=0.02)  # 150 BPM over the whole take

    # Velocities: bright (100 +/- 10) before bar 4, dark (50 +/- 10) from bar 4 on.
    before = [m.velocity for e, m in msgs if m.type == "note_on" and m.velocity and e.frame < bar4 - 200]
    after = [m.velocity for e, m in msgs if m.type == "note_on" and m.velocity and e.frame > bar4 - 200]
    assert before and after and min(before) > 80 > max(after)

    # Every note-on has its note-off, and All Notes Off follows on every channel used.
    pairs, hanging = note_pairs(events)
    assert pairs and not hanging, hanging
    last_note = max(e.frame for e, m in msgs if m.type in ("note_on", "note_off"))
    all_off = {m.channel for e, m in msgs if m.type == "control_change" and m.control == 123 and e.frame >= last_note}
    assert all_off == {0, 1, 9}


def test_sigterm_during_start_up_exits_cleanly(jack_server, daemon_factory, tmp_path):
    daemon = daemon_factory("--model", str(build_model(tmp_path / "m.onnx")), "-q")
    jack_server.wait_for_port(OUT, timeout=20)
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log


def test_ports_lists_the_daemons_ports(jack_server, daemon_factory, tmp_path):
    daemon_factory("--model", str(build_model(tmp_path / "m.onnx")), "-q")
    jack_server.wait_for_port(IN, timeout=20)
    listing = subprocess.run([sys.executable, "-m", "livegan", "ports", "--api", "jack"], env=jack_server.env,
                             capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert "LiveGAN-in:LiveGAN In" in listing.stdout  # our control input is something others can send to


def test_a_missing_jack_server_is_one_clear_line(tmp_path):
    env = dict(os.environ, JACK_DEFAULT_SERVER="livegan-no-such-server", JACK_NO_START_SERVER="1")
    result = subprocess.run([sys.executable, "-m", "livegan", "run", "--api", "jack", "--model",
                             str(build_model(tmp_path / "m.onnx"))], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("livegan: error: cannot open MIDI output 'LiveGAN Out'")
    assert "Traceback" not in result.stderr


def test_the_shipped_default_model_plays_out_of_the_box(jack_server, midi_dump, daemon_factory):
    daemon = daemon_factory("--bpm", "200", "--bars", "3", "--seed", "1", "-q", "--no-input")
    jack_server.wait_for_port(OUT, timeout=20)
    dump = midi_dump(source=OUT)
    assert daemon.proc.wait(timeout=30) == 0, daemon.log
    daemon.stop()
    time.sleep(0.2)
    events = dump.stop()
    assert any("default.onnx" in line for line in daemon.log)
    pairs, hanging = note_pairs(events)
    assert len(pairs) > 5 and not hanging
    channels = {mido.Message.from_bytes(list(e.data)).channel for e in events if e.data[0] & 0xF0 == 0x90}
    assert channels <= {0, 1, 2, 3}  # the four voices, one channel each
