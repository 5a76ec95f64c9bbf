"""Stop at any moment: SIGINT or SIGTERM at random times never leaves a note hanging.

Most trials run the real session in this process with the daemon's own signal
handler installed and a real signal sent at a seeded random time: during start-up,
in the middle of bars, and right after a mood switch. test_faults_jack.py repeats
the experiment with real daemons over JACK.
"""

import os
import signal
import threading

import mido
import numpy as np
import pytest
from onnx_models import build_model

from livegan.commands.run import _stop_on_signals
from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import MonotonicClock

TRIALS = 90
MOODS = [Mood("a", 0.8, 0.6, velocity=100), Mood("b", -0.6, -0.5, velocity=50, legato=1.0)]


def assert_released(sent):
    """Every note-on has a later note-off; after the last note, All Notes Off on every channel used."""
    sounding = {}
    for i, (_, msg) in enumerate(sent):
        if msg.type == "note_on" and msg.velocity:
            sounding[(msg.channel, msg.note)] = i
        elif msg.type in ("note_on", "note_off"):
            sounding.pop((msg.channel, msg.note), None)
    assert not sounding, f"hanging notes: {sorted(sounding)}"
    used = {m.channel for _, m in sent if m.type == "note_on"}
    last_note = max((i for i, (_, m) in enumerate(sent) if m.type in ("note_on", "note_off")), default=-1)
    released = {m.channel for _, m in sent[last_note + 1:] if m.type == "control_change" and m.control == 123}
    assert used <= released


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    return OnnxGenerator(build_model(tmp_path_factory.mktemp("m") / "tiny.onnx", bias=-2.0))


@pytest.fixture
def signal_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_random_signals_never_leave_a_note_hanging(generator, signal_handlers):
    rng = np.random.default_rng(20261124)
    outcomes = {"start-up": 0, "playing": 0, "mood switch": 0}
    for trial in range(TRIALS):
        clock = MonotonicClock()
        _stop_on_signals(clock)
        port = MemoryOutput(clock.now)
        session = LiveSession(generator, MOODS, ControlMap(), port, clock,
                              SessionOptions(bpm=400, seed=trial, preroll=0.02, morph_bars=int(rng.integers(0, 3))))
        kind = rng.choice(list(outcomes))
        delay = {"start-up": rng.uniform(0, 0.03), "playing": rng.uniform(0.03, 0.35),
                 "mood switch": rng.uniform(0.05, 0.3)}[kind]
        sig = signal.SIGINT if rng.random() < 0.5 else signal.SIGTERM
        if kind == "mood switch":
            switch_at = delay - rng.uniform(0, 0.04)
            threading.Timer(switch_at, session.on_message, [mido.Message("program_change", program=1)]).start()
        threading.Timer(delay, os.kill, [os.getpid(), sig]).start()
        session.run()  # returns when the signal has set the stop
        assert clock.stop.is_set()
        assert_released(port.sent)
        outcomes[kind] += 1
    assert sum(outcomes.values()) == TRIALS and min(outcomes.values()) > 10


def test_a_fresh_start_first_silences_what_a_killed_run_left_sounding(generator):
    """SIGKILL cannot be caught; the next start sends All Notes Off on its channels before anything else."""
    clock = MonotonicClock()
    port = MemoryOutput(clock.now)
    LiveSession(generator, MOODS, ControlMap(), port, clock, SessionOptions(bpm=400)).run(bars=1)
    first = [m for _, m in port.sent[:6]]
    assert [(m.type, m.control) for m in first] == [("control_change", 64), ("control_change", 123)] * 3
    assert {m.channel for m in first} == set(generator.info.channels)
