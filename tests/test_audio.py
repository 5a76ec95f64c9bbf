"""Audio through real FluidSynth and a real SoundFont: offline WAVs, SoundFont lookup, the live synth's failures."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from livegan.errors import UserError

fluidsynth = pytest.importorskip("fluidsynth", reason="pyfluidsynth and libfluidsynth are needed for audio tests")
from livegan.offline.wav import render_wav
from livegan.ports.synth import INSTALL_HINT, LiveSynth, find_soundfont

SMALL_FONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")  # Debian's timgm6mb-soundfont: 6 MB, loads in ms
RATE = 22050


@pytest.fixture(scope="module")
def soundfont() -> Path:
    if SMALL_FONT.is_file():
        return SMALL_FONT
    try:
        return find_soundfont()
    except UserError as exc:
        pytest.skip(str(exc))


def on(ch: int, note: int, vel: int = 90) -> mido.Message:
    return mido.Message("note_on", channel=ch, note=note, velocity=vel)


def off(ch: int, note: int) -> mido.Message:
    return mido.Message("note_off", channel=ch, note=note)


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path)) as w:
        return w.getparams(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_a_wav_has_the_pieces_length_and_rate_and_is_louder_where_more_notes_sound(tmp_path, soundfont):
    # Second 0: silence. Second 1: one piano note. Second 2: the same note plus five more and a drum.
    chord = (48, 55, 60, 64, 67, 72)
    messages = [(0.0, mido.Message("program_change", channel=0, program=0)), (1.0, on(0, 60))]
    messages += [(2.0, on(0, p)) for p in chord if p != 60] + [(2.0, on(9, 36))]
    messages += [(2.9, off(0, p)) for p in chord] + [(2.9, off(9, 36))]
    started = time.perf_counter()
    result = render_wav(messages, 3.0, tmp_path / "out.wav", soundfont, sample_rate=RATE, tail=0.5)
    took = time.perf_counter() - started

    params, audio = read_wav(tmp_path / "out.wav")
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, RATE)
    assert params.nframes == result.frames == int(3.5 * RATE)
    silence, one, seven = (rms(audio[int(a * RATE) + 2000:int((a + 0.8) * RATE)]) for a in (0.0, 1.0, 2.0))
    assert silence < 5  # FluidSynth dithers: a few LSB at most
    assert one > 100  # not silent
    assert seven > 1.5 * one
    assert took < 3.5  # offline: faster than real time


def test_drums_on_channel_10_sound_from_the_percussion_bank(tmp_path, soundfont):
    render_wav([(0.0, on(9, 38, 110)), (0.4, off(9, 38))], 0.5, tmp_path / "drum.wav", soundfont, sample_rate=RATE, tail=0.0)
    _, audio = read_wav(tmp_path / "drum.wav")
    assert rms(audio) > 100


def test_soundfont_lookup_prefers_the_option_then_the_environment_then_the_system(tmp_path):
    mine, env, system = (tmp_path / n for n in ("mine.sf2", "env.sf2", "system.sf2"))
    for p in (mine, env, system):
        p.write_bytes(b"RIFF")
    environ = {"LIVEGAN_SOUNDFONT": str(env)}
    assert find_soundfont(mine, environ, [str(system)]) == mine
    assert find_soundfont(None, environ, [str(system)]) == env
    assert find_soundfont(None, {}, [str(tmp_path / "absent.sf2"), str(system)]) == system


def test_a_missing_soundfont_says_what_to_install(tmp_path):
    with pytest.raises(UserError) as error:
        find_soundfont(None, {}, [str(tmp_path / "absent.sf2")])
    assert "no SoundFont found" in str(error.value) and INSTALL_HINT in str(error.value)
    assert "apt-get install fluid-soundfont-gm" in INSTALL_HINT and "--soundfont" in INSTALL_HINT
    with pytest.raises(UserError, match=r"SoundFont '.*typo.sf2' \(from --soundfont\) does not exist"):
        find_soundfont(tmp_path / "typo.sf2", {}, [])


def test_a_synth_that_cannot_reach_its_audio_fails_at_once_with_one_line(monkeypatch, soundfont):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "livegan-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    started = time.monotonic()
    with pytest.raises(UserError, match=r"--synth: FluidSynth could not open the JACK server"):
        LiveSynth.open(soundfont, api="jack")
    assert time.monotonic() - started < 5
