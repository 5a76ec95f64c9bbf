"""``livegan run --record FILE --synth`` against a real JACK server.

One take: the daemon (torch unimportable) plays a tiny model to its JACK port, which
a real JACK client (jack_record.py) records; it also records the take to a MIDI file and
plays it through FluidSynth into JACK, where jack_rec hears it. Mid-take the file is
already a valid SMF with notes in it; after SIGINT it holds exactly the messages the
JACK client received, at the times it received them, with every note released.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import mido
import numpy as np
import pytest
from jackkit import Event
from onnx_models import build_model

from livegan.music.smf import played_notes

BPM = 150
BAR_S = 4 * 60 / BPM
OUT, SYNTH = "LiveGAN:LiveGAN Out", "LiveGAN-synth:left"
NO_TORCH = Path(__file__).parent / "no_torch"
FONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def file_messages(path: Path) -> dict[int, list[tuple[float, bytes]]]:
    """Per channel: (seconds from the file's start, message bytes), in file order."""
    mf = mido.MidiFile(path)
    per_channel: dict[int, list[tuple[float, bytes]]] = {}
    for track in mf.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if not msg.is_meta:
                per_channel.setdefault(msg.channel, []).append((mido.tick2second(tick, mf.ticks_per_beat, mido.bpm2tempo(BPM)),
                                                               bytes(msg.bytes())))
    return per_channel


def dump_messages(events: list[Event]) -> dict[int, list[tuple[float, bytes]]]:
    per_channel: dict[int, list[tuple[float, bytes]]] = {}
    for e in events:
        if e.data[0] < 0xF0:
            msg = mido.Message.from_bytes(list(e.data))
            raw = bytes(msg.bytes()) if msg.type != "note_on" or msg.velocity else bytes(
                mido.Message("note_off", channel=msg.channel, note=msg.note).bytes())
            per_channel.setdefault(e.data[0] & 0x0F, []).append((e.time, raw))
    return per_channel


def start_daemon(server, tmp_path: Path, *args: str) -> subprocess.Popen:
    env = dict(server.env, PYTHONPATH=os.pathsep.join([str(NO_TORCH), os.environ.get("PYTHONPATH", "")]))
    log = (tmp_path / "daemon.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "livegan", "run", "--api", "jack", "-q", "--no-input", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)


def test_record_after_sigint_holds_what_a_jack_client_heard_and_the_synth_plays_it(tmp_path, jack_server, midi_dump):
    if not FONT.is_file():
        pytest.skip(f"{FONT} (Debian: timgm6mb-soundfont) is needed for --synth")
    take = tmp_path / "take.mid"
    model = build_model(tmp_path / "tiny.onnx", bias=-3.0)
    daemon = start_daemon(jack_server, tmp_path, "--model", str(model), "--bpm", str(BPM), "--seed", "1",
                          "--record", str(take), "--synth", "--soundfont", str(FONT))
    heard = tmp_path / "synth.wav"
    try:
        jack_server.wait_for_port(OUT, timeout=20)
        dump = midi_dump(source=OUT)
        jack_server.wait_for_port(SYNTH, timeout=10)
        rec = None
        if shutil.which("jack_rec"):
            rec = subprocess.Popen(["jack_rec", "-f", str(heard), "-d", "1.5", SYNTH], env=jack_server.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        time.sleep(2.5 * BAR_S)
        # Mid-take, the file on disk is already a complete SMF holding the notes so far.
        so_far = [m for t in mido.MidiFile(take).tracks for m in t if m.type == "note_on"]
        assert len(so_far) > 20
        time.sleep(0.6 * BAR_S)
        daemon.send_signal(signal.SIGINT)
        assert daemon.wait(timeout=15) == 0, (tmp_path / "daemon.log").read_text()
        time.sleep(0.3)
        events = dump.stop()
        if rec is not None:
            assert rec.wait(timeout=10) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    log = (tmp_path / "daemon.log").read_text()
    assert "Traceback" not in log and "recorded" in log, log

    recorded, received = file_messages(take), dump_messages(events)
    assert set(recorded) == {0, 1, 9} and set(received) <= set(recorded)
    drift = []
    for channel, theirs in received.items():
        ours = recorded[channel][-len(theirs):]
        # The client connected a moment after the port appeared: it heard a suffix of the take, all of it.
        assert [raw for _, raw in ours] == [raw for _, raw in theirs], f"channel {channel + 1}"
        offsets = np.array([t_theirs - t_ours for (t_ours, _), (t_theirs, _) in zip(ours, theirs)])
        drift += np.abs(np.diff(offsets)).tolist()
    assert sum(len(v) for v in received.values()) > 0.6 * sum(len(v) for v in recorded.values())
    # Event to event, the file's times agree with JACK's (a loaded dummy server's clock wanders over a take).
    assert np.median(drift) < 0.003, f"median change of the file-to-JACK offset {np.median(drift) * 1e3:.1f} ms"
    # The file's times are the send times at the session tempo from bar 1: note-ons sit on the 16th grid.
    onsets = np.array([t for ch in recorded.values() for t, raw in ch if raw[0] & 0xF0 == 0x90 and raw[2]])
    step = BAR_S / 16
    off_grid_ms = np.abs(onsets / step - np.round(onsets / step)) * step * 1e3
    assert np.median(off_grid_ms) < 3 and np.percentile(off_grid_ms, 90) < 10, np.sort(off_grid_ms)[-10:]

    mf = mido.MidiFile(take)
    timed = sorted(((t, mido.Message.from_bytes(list(raw))) for ch in recorded.values() for t, raw in ch), key=lambda x: x[0])
    assert played_notes(timed) and not _hanging(timed)  # every note-on has its note-off
    assert {m.channel for t, m in timed if m.type == "control_change" and m.control == 123 and t >= timed[-1][0] - 0.01} == {0, 1, 9}
    assert [(m.channel, m.program) for t, m in timed if m.type == "program_change"][:2] == [(0, 0), (1, 33)]
    assert 2.5 * BAR_S < mf.length < 4.5 * BAR_S

    if heard.is_file():
        with wave.open(str(heard)) as w:
            audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
        assert np.sqrt(np.mean(audio**2)) > 50, "the synth played nothing into JACK"


def _hanging(timed: list[tuple[float, mido.Message]]) -> set[tuple[int, int]]:
    sounding: set[tuple[int, int]] = set()
    for _, m in timed:
        if m.type == "note_on" and m.velocity:
            sounding.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            sounding.discard((m.channel, m.note))
    return sounding
