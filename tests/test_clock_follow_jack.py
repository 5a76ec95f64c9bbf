"""Following a DAW's MIDI clock over real JACK: tempo changes, Stop, Song Position and Continue.

A test client plays the DAW: it sends Start and 24 clocks per beat at 100 BPM,
switches to 130 BPM, stops, moves the song position to bar 5 and continues. The
same client's messages and the daemon's notes are recorded by one JACK client (jack_record.py),
so every note can be compared with the clock tick it belongs to.
"""

from __future__ import annotations

import signal
import time

import mido
import numpy as np
from daemonkit import IN, OUT, note_pairs
from onnx_models import build_model

from livegan.timing.clock import MonotonicClock


def play_clock(port, start: float, bpm: float, ticks: int, first: mido.Message | None = None) -> float:
    """Send ``ticks`` clocks at ``bpm`` from ``start`` at absolute deadlines; return when the next would be due."""
    clock, period = MonotonicClock(), 60 / bpm / 24
    if first is not None:
        port.send(first)
    for k in range(ticks):
        clock.sleep_until(start + k * period)
        port.send(mido.Message("clock"))
    return start + ticks * period


def test_notes_follow_the_daws_clock_tempo_stop_and_song_position(
        jack_server, midi_dump, daemon_factory, jack_output, tmp_path):
    model = build_model(tmp_path / "tiny.onnx", bias=-3.0)
    daemon = daemon_factory("--model", str(model), "--clock", "external", "--seed", "2", "-q")
    jack_server.wait_for_port(OUT, timeout=20)
    jack_server.wait_for_port(IN, timeout=5)
    daw = jack_output("clock", "daw")
    dump = midi_dump(source=OUT)
    jack_server.connect("daw:clock", dump.port)
    jack_server.connect("daw:clock", IN)
    daemon.wait_line("waiting for MIDI clock")
    time.sleep(0.3)
    t = time.perf_counter() + 0.05
    t = play_clock(daw, t, 100, 96 * 2, first=mido.Message("start"))  # bars 1-2 at 100 BPM
    t = play_clock(daw, t, 130, 96)  # bar 3 at 130 BPM
    daw.send(mido.Message("stop"))
    time.sleep(0.4)
    daw.send(mido.Message("songpos", pos=64))  # bar 5, beat 1
    t = play_clock(daw, time.perf_counter() + 0.05, 130, 96, first=mido.Message("continue"))
    daw.send(mido.Message("stop"))
    time.sleep(0.5)
    assert daemon.stop(signal.SIGINT) == 0, daemon.log
    events = dump.stop()

    log = "\n".join(daemon.log)
    assert "starting at bar 1, beat 1" in log and "starting at bar 5, beat 1" in log, log
    msgs = [(e.frame, mido.Message.from_bytes(list(e.data))) for e in events]
    ticks = np.array([f for f, m in msgs if m.type == "clock"])
    assert len(ticks) == 96 * 4
    stops = [f for f, m in msgs if m.type == "stop"]
    onsets = np.array([f for f, m in msgs if m.type == "note_on" and m.velocity])
    assert len(onsets) > 40

    # Each note sits on a 16th of the DAW's grid: the nearest clock tick is a multiple of 6 from Start,
    # and the note is no further from it than JACK's period and a little scheduling noise.
    nearest = np.abs(onsets[:, None] - ticks[None, :]).argmin(axis=1)
    distance_ms = np.abs(onsets - ticks[nearest]) / jack_server.sample_rate * 1e3
    assert set(nearest % 6) == {0}, sorted(set(nearest % 6))
    assert np.median(distance_ms) < 4 and np.percentile(distance_ms, 90) < 10, np.sort(distance_ms)[-8:]
    in_fast_bar = (nearest >= 192) & (nearest < 288)  # bar 3, played at 130 BPM
    assert in_fast_bar.sum() > 5 and np.median(distance_ms[in_fast_bar]) < 4

    # Nothing sounds while stopped, and every note was released at each Stop.
    between = (onsets > stops[0]) & (onsets < ticks[288])
    assert not between.any()
    pairs, hanging = note_pairs(events)
    assert pairs and not hanging
    for stop in stops:
        released = {m.channel for f, m in msgs if m.type == "control_change" and m.control == 123 and f >= stop}
        assert released >= {0, 1, 9}
