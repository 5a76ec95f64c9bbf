"""What keeps the clock thread on time, checked for what it does, never for how fast (benchmarks/timing.py
measures that): the interpreter lock kept from a spin until the next wait, the hang watchdog re-armed
seldom and never just before a deadline, the collector frozen while a session plays, the send path
rehearsed on a port of its own, and a daemon that may not have real-time scheduling playing anyway."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest
from onnx_models import build_model

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.ports.memory import MemoryOutput
from livegan.timing import clock as clock_module
from livegan.timing.clock import FakeClock, MonotonicClock, Rehearsed

NO_TORCH = Path(__file__).parent / "no_torch"


@pytest.fixture
def switch_interval():
    """The test runs with a 0.5 ms switch interval (as ``livegan run`` sets it); the old one is put back."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield 0.0005
    sys.setswitchinterval(before)


def test_the_clock_keeps_the_lock_from_its_spin_until_it_waits_again(switch_interval):
    clock = MonotonicClock(hold_interval=0.005)
    seen_while_waiting = []
    waiting = threading.Event()
    real_wait = clock.stop.wait

    def wait(timeout):
        seen_while_waiting.append(sys.getswitchinterval())
        waiting.set()
        return real_wait(timeout)

    clock.stop.wait = wait
    assert clock.sleep_until(clock.now() + 0.01)
    assert seen_while_waiting and set(seen_while_waiting) == {switch_interval}  # waiting: the process's interval
    assert sys.getswitchinterval() == 0.005  # from the spin on, through the sends, until the next wait
    assert clock.sleep_until(0.0) and sys.getswitchinterval() == 0.005  # a deadline already due: still held
    seen_while_waiting.clear()
    assert clock.sleep_until(clock.now() + 0.01)
    assert set(seen_while_waiting) == {switch_interval}
    clock.kick()  # a transport about to block on its own condition
    assert sys.getswitchinterval() == switch_interval
    clock.sleep_until(0.0)
    clock.disarm()  # the session is over
    assert sys.getswitchinterval() == switch_interval


def test_without_hold_interval_the_clock_leaves_the_switch_interval_alone(switch_interval):
    clock = MonotonicClock(hold_interval=None)
    assert clock.sleep_until(clock.now() + 0.003) and clock.sleep_until(0.0)
    assert sys.getswitchinterval() == switch_interval


def test_the_hang_watchdog_is_rearmed_once_a_second_at_most_and_not_just_before_a_deadline(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(clock_module, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    armed = []
    monkeypatch.setattr(clock_module.faulthandler, "dump_traceback_later", lambda timeout, exit: armed.append(timeout))
    clock = MonotonicClock(hang_timeout=16.0, hold_interval=None)
    clock.stop.set()  # sleep_until returns at once: only its re-arming is looked at

    clock.kick()
    assert armed == [18.0]  # the timer covers the longest gap between two re-arms
    now[0] += 0.5
    clock.kick()
    clock.sleep_until(now[0] + 1.0)
    assert len(armed) == 1  # not yet due
    now[0] += 0.6
    clock.sleep_until(now[0] + 0.0005)  # due, but a deadline is about to be spun to
    assert len(armed) == 1
    clock.sleep_until(now[0] + 0.1)  # due, with time to spare
    assert len(armed) == 2
    now[0] += 2.5
    clock.sleep_until(now[0])  # overdue: re-armed even right at a deadline
    assert len(armed) == 3
    clock.disarm()
    clock.kick()
    assert len(armed) == 4


def test_a_short_hang_timeout_is_rearmed_within_a_quarter_of_it(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(clock_module, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    armed = []
    monkeypatch.setattr(clock_module.faulthandler, "dump_traceback_later", lambda timeout, exit: armed.append(timeout))
    clock = MonotonicClock(hang_timeout=1.0, hold_interval=None)
    clock.kick()
    now[0] += 0.26
    clock.kick()
    assert armed == [1.5, 1.5]


def test_rehearsal_runs_over_and_over_through_the_spin_and_stops_just_before_the_deadline():
    clock = MonotonicClock(spin=0.05, hold_interval=None)  # a long spin: the wake-up cannot miss it
    calls: list[float] = []
    rehearsed = Rehearsed(clock, lambda: calls.append(clock.now()))
    deadline = clock.now() + 0.06
    assert rehearsed.sleep_until(deadline)
    assert clock.now() >= deadline
    assert len(calls) > 10  # not once: all through the spin
    assert max(calls) < deadline - clock_module.REHEARSAL_LEAD / 2  # the last one began before the lead (checked
    # just before the call: the time it records is a moment later)
    assert min(calls) > deadline - 0.05 - 0.001  # ... and the first once the spin began


def test_a_deadline_already_due_is_not_rehearsed_and_a_stop_ends_the_wait():
    clock = MonotonicClock(spin=0.05, hold_interval=None)
    calls: list[float] = []
    rehearsed = Rehearsed(clock, lambda: calls.append(clock.now()))
    assert rehearsed.sleep_until(clock.now() - 0.001)  # the next message of a chord
    assert calls == []
    clock.stop.set()
    assert not rehearsed.sleep_until(clock.now() + 1.0) and calls == []
    assert rehearsed.stop is clock.stop


def test_a_fake_clock_rehearses_once_when_it_waits():
    clock, calls = FakeClock(), []
    rehearsed = Rehearsed(clock, lambda: calls.append(clock.time))
    assert rehearsed.sleep_until(1.0) and calls == [0.0] and clock.now() == 1.0
    assert rehearsed.sleep_until(1.0) and calls == [0.0]


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    return OnnxGenerator(build_model(tmp_path_factory.mktemp("m") / "tiny.onnx", bias=-2.0))


def test_a_live_session_freezes_the_collector_while_it_plays_rehearses_and_sends_the_rehearsal_nowhere(
        generator, monkeypatch):
    gc.unfreeze()
    rehearsals, frozen_at_bars = [], []
    real = LiveSession._rehearse
    monkeypatch.setattr(LiveSession, "_rehearse", lambda self: (rehearsals.append(1), real(self)))
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    session = LiveSession(generator, [Mood("m", 0.0, 0.0)], ControlMap(), port, clock, SessionOptions(bpm=240, seed=1),
                          on_bar=lambda bar: frozen_at_bars.append(gc.get_freeze_count()))
    session.run(bars=2)
    assert len(frozen_at_bars) == 2 and min(frozen_at_bars) > 0  # frozen while playing
    assert gc.get_freeze_count() == 0  # and thawed after
    assert len(rehearsals) > 0
    scratch = (0, 60, 1)  # what the rehearsal plays, on its own port
    assert not [m for _, m in port.sent if m.type == "note_on" and (m.channel, m.note, m.velocity) == scratch]


def test_rehearsing_the_notes_that_go_next_sends_the_same_take_as_not_rehearsing(generator, monkeypatch):
    def take() -> list[bytes]:
        clock = FakeClock()
        port = MemoryOutput(clock.now)
        LiveSession(generator, [Mood("m", 0.0, 0.0)], ControlMap(), port, clock, SessionOptions(bpm=240, seed=1)).run(bars=2)
        return [(t, m.bytes()) for t, m in port.sent]

    rehearsed = take()
    monkeypatch.setattr(LiveSession, "_rehearse", lambda self: None)
    assert any(m[0] & 0xF0 == 0x90 for _, m in rehearsed) and take() == rehearsed


def test_a_simulation_is_not_rehearsed_nor_frozen(generator, monkeypatch):
    rehearsals = []
    monkeypatch.setattr(LiveSession, "_rehearse", lambda self: rehearsals.append(1))
    clock = FakeClock()
    session = LiveSession(generator, [Mood("m", 0.0, 0.0)], ControlMap(), MemoryOutput(clock.now), clock,
                          SessionOptions(bpm=240, seed=1, background=False),
                          on_bar=lambda bar: rehearsals.append(gc.get_freeze_count() or None))
    session.run(bars=2)
    assert rehearsals == [None, None]


def realtime_is_refused() -> list[str]:
    """A command prefix under which SCHED_FIFO is refused (root without CAP_SYS_NICE), or [] if none is at hand."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    prefix = ["setpriv", "--bounding-set=-sys_nice", "--inh-caps=-sys_nice"]
    check = subprocess.run([*prefix, sys.executable, "-c", "import os; os.sched_setscheduler(0, os.SCHED_FIFO, "
                            "os.sched_param(10))"], capture_output=True)
    return prefix if check.returncode != 0 else []


@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="this machine has an ALSA sequencer")
def test_where_real_time_is_not_permitted_the_daemon_says_so_once_and_plays_to_jack(jack_server, tmp_path, midi_dump):
    prefix = realtime_is_refused()
    if not prefix:
        pytest.skip("needs root and setpriv to run the daemon without the right to real-time scheduling")
    model = build_model(tmp_path / "tiny.onnx", bias=-2.0)
    env = dict(jack_server.env, PYTHONPATH=os.pathsep.join([str(NO_TORCH), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "livegan", "run", "--model", str(model), "-q",
                             "--bars", "4", "--bpm", "240", "--seed", "1"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        jack_server.wait_for_port("LiveGAN:LiveGAN Out", timeout=30)
        dump = midi_dump("LiveGAN:LiveGAN Out")
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "MIDI through JACK (no ALSA sequencer" in err  # no --api: JACK, since there is no ALSA sequencer
    assert err.count("clock thread:") == 1 and "clock thread: normal priority; real-time scheduling is not permitted" in err
    notes = [e for e in dump.wait_for(1, timeout=5) if e.data[0] & 0xF0 == 0x90 and e.data[2] > 0]
    assert notes, f"nothing played; daemon said:\n{err}"
