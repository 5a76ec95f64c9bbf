"""MIDI ports over a real JACK server: the API that runs is picked, and input is polled, never called back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import pytest
from onnx_models import build_model

from livegan.errors import UserError
from livegan.ports import midi

NO_TORCH = Path(__file__).parent / "no_torch"
pytestmark = pytest.mark.skipif(os.path.exists(midi.ALSA_SEQUENCER), reason="this machine has an ALSA sequencer")


@pytest.mark.jack
def test_the_input_is_read_by_livegans_thread_not_the_drivers(jack_server, jack_output):
    got: list[tuple[mido.Message, float, str]] = []
    arrived = threading.Event()

    def on_message(msg: mido.Message, arrival: float) -> None:
        got.append((msg, arrival, threading.current_thread().name))
        arrived.set()

    port = midi.open_input("LiveGAN In", "jack", on_message, virtual=True)
    try:
        keys = jack_output("keys", "tester")
        jack_server.connect("tester:keys", "LiveGAN-in:LiveGAN In")
        for value in (10, 20, 30):
            sent = time.perf_counter()
            keys.send(mido.Message("control_change", control=21, value=value))
            assert arrived.wait(5), "the CC never arrived"
            arrived.clear()
            msg, arrival, thread = got[-1]
            assert msg.value == value
            assert thread == "livegan-input"  # a thread of LiveGAN's, not JACK's process thread
            assert sent - 0.001 <= arrival <= time.perf_counter()
    finally:
        port.close()
    assert port.closed


@pytest.mark.jack
def test_with_no_alsa_sequencer_and_a_jack_server_run_plays_to_jack_without_api(jack_server, tmp_path):
    midi.pick_api.cache_clear()
    assert midi.pick_api()[0] == "jack"
    model = build_model(tmp_path / "tiny.onnx")
    env = dict(jack_server.env, PYTHONPATH=os.pathsep.join([str(NO_TORCH), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "livegan", "run", "--model", str(model), "--no-input", "-q",
                             "--bars", "2", "--bpm", "240"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        jack_server.wait_for_port("LiveGAN:LiveGAN Out", timeout=30)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "MIDI through JACK (no ALSA sequencer" in err


def test_with_neither_alsa_nor_jack_the_error_names_both(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"livegan-no-such-server-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    midi.pick_api.cache_clear()
    try:
        with pytest.raises(UserError, match=r"no ALSA sequencer .*/dev/snd/seq.* no JACK server answering"):
            midi.pick_api()
    finally:
        midi.pick_api.cache_clear()
