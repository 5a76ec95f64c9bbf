"""The live synth (``livegan run --synth --api jack``) against a real JACK server, heard by a real JACK client."""

from __future__ import annotations

import shutil
import subprocess
import time
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

pytest.importorskip("fluidsynth", reason="pyfluidsynth and libfluidsynth are needed for the synth")
from livegan.errors import UserError
from livegan.ports.memory import MemoryOutput
from livegan.ports.synth import LiveSynth, find_soundfont
from livegan.ports.taps import TapOutput

SMALL_FONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def soundfont() -> Path:
    try:
        return SMALL_FONT if SMALL_FONT.is_file() else find_soundfont()
    except UserError as exc:
        pytest.skip(str(exc))


def record(server, port: str, seconds: float, path: Path) -> subprocess.Popen:
    """``jack_rec`` (jackd2's example client) writing what ``port`` plays to a WAV."""
    if shutil.which("jack_rec") is None:
        pytest.skip("jack_rec (Debian: jackd2) is needed to hear the synth")
    return subprocess.Popen(["jack_rec", "-f", str(path), "-d", str(seconds), port], env=server.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def test_the_synth_plays_what_the_port_sends_into_jack(jack_server, tmp_path):
    synth = LiveSynth.open(soundfont(), api="jack", client_name="livegan-synth-test")
    port = TapOutput(MemoryOutput(), [synth])
    try:
        jack_server.wait_for_port("livegan-synth-test:left")
        rec = record(jack_server, "livegan-synth-test:left", 1.6, tmp_path / "heard.wav")
        time.sleep(0.6)  # silence first
        port.send(mido.Message("program_change", channel=0, program=0))
        port.send(mido.Message("note_on", channel=0, note=60, velocity=110))
        port.send(mido.Message("note_on", channel=9, note=38, velocity=110))
        time.sleep(0.5)
        port.send(mido.Message("note_off", channel=0, note=60))
        assert rec.wait(timeout=10) == 0
    finally:
        port.close()

    with wave.open(str(tmp_path / "heard.wav")) as w:
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    assert rate == jack_server.sample_rate
    loud = np.abs(audio) > 200
    assert loud.any(), "the synth made no sound on JACK"
    first = np.argmax(loud) / rate
    assert 0.3 < first < 1.2  # the note is heard when it was sent, not before
    assert np.sqrt(np.mean(audio[: int(0.3 * rate)] ** 2)) < 20
