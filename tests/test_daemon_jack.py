"""The daemon against a real JACK server, recorded by a real client (jack_midi_dump).

One end-to-end take: ``livegan run`` in its own process, with torch made
unimportable, plays a tiny ONNX model to its virtual port; the test sends a
program change into "LiveGAN In" mid-bar, then SIGINT. The recording must show
notes on the 16th grid at the configured tempo, the new mood from the next bar
line, and a note-off for every note-on followed by All Notes Off.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from jackkit import Event, JackServer
from onnx_models import build_model

BPM = 150
STEP_S = 60 / BPM / 4
BAR_S = STEP_S * 16
OUT, IN = "LiveGAN:LiveGAN Out", "LiveGAN-in:LiveGAN In"
NO_TORCH = Path(__file__).parent / "no_torch"
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


class Daemon:
    """``livegan run`` as a subprocess; stderr lines are collected with the time they arrived."""

    def __init__(self, server: JackServer, *args: str) -> None:
        env = dict(server.env, PYTHONPATH=os.pathsep.join([str(NO_TORCH), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen([sys.executable, "-m", "livegan", "run", "--api", "jack", *args],
                                     env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put((time.perf_counter(), line.rstrip()))

    def wait_line(self, text: str, timeout: float = 20.0) -> float:
        """Wait for a stderr line containing ``text``; return when it arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                when, line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.log.append(line)
            if text in line:
                return when
        raise AssertionError(f"daemon never printed {text!r}; stderr so far: {self.log}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        time.sleep(0.1)
        while not self.lines.empty():
            self.log.append(self.lines.get()[1])
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def daemon_factory(jack_server):
    started: list[Daemon] = []

    def start(*args: str) -> Daemon:
        started.append(Daemon(jack_server, *args))
        return started[-1]

    yield start
    for d in started:
        d.kill()


def note_pairs(events: list[Event]):
    """Pair each note-on with the next note-off of the same channel and pitch."""
    sounding, pairs = {}, []
    for e in events:
        msg = mido.Message.from_bytes(list(e.data))
        if msg.type == "note_on" and msg.velocity:
            assert (msg.channel, msg.note) not in sounding, f"note-on {msg} while it already sounds"
            sounding[(msg.channel, msg.note)] = (e, msg)
        elif msg.type in ("note_on", "note_off") and (msg.channel, msg.note) in sounding:
            pairs.append((sounding.pop((msg.channel, msg.note)), (e, msg)))
    return pairs, sounding


def test_daemon_streams_on_the_grid_switches_mood_at_the_next_bar_and_releases_on_sigint(
        tmp_path, jack_server, midi_dump, daemon_factory):
    model = build_model(tmp_path / "tiny.onnx", bias=-3.0)
    moods = tmp_path / "moods.toml"
    moods.write_text(MOODS)
    daemon = daemon_factory("--model", str(model), "--moods", str(moods), "--bpm", str(BPM), "--seed", "1", "-q")
    jack_server.wait_for_port(OUT, timeout=20)
    jack_server.wait_for_port(IN, timeout=5)
    control = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("control", virtual=True, client_name="tester")
    try:
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
    finally:
        control.close()

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

    # Note-ons sit on the 16th grid of the configured tempo (JACK quantizes to 128-frame periods).
    onsets = np.array([e.frame for e, m in msgs if m.type == "note_on" and m.velocity])
    steps = (onsets - bar4) / (STEP_S * frames)
    assert len(onsets) > 30
    off_grid_ms = np.abs(steps - np.round(steps)) * STEP_S * 1e3
    assert np.median(off_grid_ms) < 6 and np.percentile(off_grid_ms, 90) < 15, np.sort(off_grid_ms)[-10:]
    slope = np.polyfit(np.round(steps), onsets, 1)[0] / frames
    assert slope == pytest.approx(STEP_S, rel=0.01)  # the tempo is 150 BPM, over the whole take

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
