"""The live session on a fake clock and a memory port: the daemon's logic, minus real time.

These tests drive the real ONNX engine, composer, sequencer and note tracker;
only the port (memory) and the clock (simulated) are stand-ins. The real-time,
real-port behaviour is proven against JACK in test_daemon_jack.py.
"""

import logging
import threading

import mido
import numpy as np
import pytest
from onnx_models import build_model

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.ports.memory import MemoryOutput
from livegan.ports.tracker import NoteTracker
from livegan.timing.clock import FakeClock

MOODS = [Mood("bright", 0.8, 0.6, velocity=100, dynamics=10), Mood("dark", -0.6, -0.5, velocity=50, dynamics=10,
                                                                      programs={"Piano": 48})]


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    return OnnxGenerator(build_model(tmp_path_factory.mktemp("m") / "tiny.onnx", bias=-3.0))


def simulate(generator, bars, bpm=120.0, on_bar=None, lateness=0.0, moods=MOODS, **options):
    clock = FakeClock(start=1000.0, lateness=lateness)
    port = MemoryOutput(clock.now)
    session = LiveSession(generator, moods, ControlMap(), port, clock,
                          SessionOptions(bpm=bpm, seed=7, background=False, **options), on_bar=on_bar)
    session.run(bars)
    return session, port.sent


def note_pairs(sent):
    """Match note-ons to note-offs per (channel, pitch); return (pairs, unmatched note-ons)."""
    open_notes, pairs = {}, []
    for t, msg in sent:
        key = (getattr(msg, "channel", None), getattr(msg, "note", None))
        if msg.type == "note_on" and msg.velocity > 0:
            assert key not in open_notes, f"note-on {key} at {t} while it already sounds"
            open_notes[key] = (t, msg)
        elif msg.type == "note_off" and key in open_notes:
            pairs.append((open_notes.pop(key), (t, msg)))
    return pairs, open_notes


def test_bar_k_starts_at_exactly_t0_plus_k_bars_however_late_each_wakeup_is(generator):
    session, _ = simulate(generator, bars=400, bpm=300, lateness=0.0007)
    starts = np.array(session.sequencer.bar_starts)
    bar = 60 / 300 * 4
    assert len(starts) == 400
    assert np.abs(starts - (starts[0] + bar * np.arange(400))).max() < 1e-9  # no drift, however long


def test_note_ons_sit_on_the_sixteenth_grid_at_the_configured_tempo(generator):
    session, sent = simulate(generator, bars=8, bpm=150)
    t0, step = session.sequencer.bar_starts[0], 60 / 150 / 4
    onsets = np.array([t for t, m in sent if m.type == "note_on"])
    assert len(onsets) > 20
    steps = (onsets - t0) / step
    assert np.abs(steps - np.round(steps)).max() < 1e-6
    assert steps.max() < 8 * 16


def test_every_note_on_gets_a_note_off_and_the_end_sends_all_notes_off(generator):
    _, sent = simulate(generator, bars=6)
    pairs, unmatched = note_pairs(sent)
    assert pairs and not unmatched
    tail = [m for _, m in sent[-6:]]
    assert [(m.channel, m.control) for m in tail] == [(0, 64), (0, 123), (1, 64), (1, 123), (9, 64), (9, 123)]


def test_a_program_change_mid_bar_moves_the_mood_at_the_next_bar(generator, caplog):
    bars_moods, session_box = [], []

    def on_bar(bar):
        bars_moods.append(bar.mood.name)
        if bar.number == 3:  # during bar 3, bars 4 and 5 are already generated in "bright"
            session_box[0].on_message(mido.Message("program_change", program=1))

    clock = FakeClock()
    port = MemoryOutput(clock.now)
    session = LiveSession(generator, MOODS, ControlMap(), port, clock, SessionOptions(seed=1, background=False), on_bar=on_bar)
    session_box.append(session)
    with caplog.at_level(logging.INFO, logger="livegan"):
        session.run(6)
    assert bars_moods == ["bright"] * 3 + ["dark"] * 3
    assert "bar 4: mood dark" in caplog.text
    bar4 = session.sequencer.bar_starts[3]
    velocities_before = [m.velocity for t, m in port.sent if m.type == "note_on" and t < bar4]
    velocities_after = [m.velocity for t, m in port.sent if m.type == "note_on" and t >= bar4]
    assert min(velocities_before) > 80 > max(velocities_after)
    programs = [(t, m.channel, m.program) for t, m in port.sent if m.type == "program_change"]
    assert (bar4, 0, 48) in programs  # the dark mood's instrument, exactly at the bar line
    assert not note_pairs(port.sent)[1]


def test_a_generator_that_never_delivers_does_not_stop_the_clock(generator, caplog):
    class Stuck:
        info, latents = generator.info, generator.latents
        release = threading.Event()

        def generate(self, latents, mood):
            self.release.wait(5)
            return generator.generate(latents, mood)

    clock = FakeClock()
    session = LiveSession(Stuck(), MOODS, ControlMap(), MemoryOutput(clock.now), clock, SessionOptions())
    session.composer.start()  # the worker blocks inside generate() for the whole run
    session.transport.arm(preroll=0.0)
    with caplog.at_level(logging.WARNING):
        session.sequencer.play(bars=5)
    Stuck.release.set()
    session.composer.stop()
    assert list(session.sequencer.bar_starts) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert caplog.text.count("generation is late") >= 4


def test_a_failing_generator_stops_with_an_error_and_releases_everything(generator):
    class Failing:
        info, latents = generator.info, generator.latents
        calls = 0

        def generate(self, latents, mood):
            Failing.calls += 1
            if Failing.calls > 1:
                raise RuntimeError("out of memory")
            return generator.generate(latents, mood)

    clock = FakeClock()
    port = MemoryOutput(clock.now)
    session = LiveSession(Failing(), MOODS, ControlMap(), port, clock, SessionOptions(background=False))
    with pytest.raises(RuntimeError, match="generation failed.*out of memory"):
        session.run(10)
    pairs, unmatched = note_pairs(port.sent)
    assert pairs and not unmatched
    assert port.sent[-1][1].control == 123


def test_stop_mid_bar_releases_held_notes(generator):
    def on_bar(bar):
        if bar.number == 3:
            clock.stop.set()

    clock = FakeClock()
    port = MemoryOutput(clock.now)
    LiveSession(generator, MOODS, ControlMap(), port, clock, SessionOptions(background=False), on_bar=on_bar).run()
    assert not note_pairs(port.sent)[1]
    assert {m.channel for _, m in port.sent if m.type == "control_change" and m.control == 123} == {0, 1, 9}


def test_the_tracker_retriggers_a_sounding_note_and_ignores_a_stale_note_off():
    port = MemoryOutput(lambda: 0.0)
    tracker = NoteTracker(port)
    tracker.note_on(0, 60, 90, key="a")
    tracker.note_on(0, 60, 90, key="b")  # same pitch again before "a" ended
    tracker.note_off(0, 60, key="a")  # "a"'s late note-off must not cut "b"
    tracker.note_off(0, 60, key="b")
    assert [(m.type, m.note) for _, m in port.sent] == [("note_on", 60), ("note_off", 60), ("note_on", 60), ("note_off", 60)]
    assert tracker.sounding == {}


def test_a_tie_hands_a_sounding_note_to_its_continuation_whose_note_off_ends_it():
    port = MemoryOutput(lambda: 0.0)
    tracker = NoteTracker(port)
    tracker.note_on(0, 60, 90, key=(1, 0))
    assert tracker.tie(0, 60, (1, 0), (2, 0))
    tracker.note_off(0, 60, key=(1, 0))  # bar 1's note-off at the line: stale
    assert not tracker.tie(0, 62, (1, 0), (2, 1)) and not tracker.tie(0, 60, (1, 0), (2, 2))  # nothing / another sounds
    tracker.note_off(0, 60, key=(2, 0))
    assert [(m.type, m.note) for _, m in port.sent] == [("note_on", 60), ("note_off", 60)]
    assert tracker.sounding == {}


def test_rehearsing_a_note_sends_nothing_and_changes_nothing_that_sounds():
    port = MemoryOutput()
    tracker = NoteTracker(port)
    tracker.note_on(0, 60, 90, key="a")
    tracker.rehearse(0, 60, None)  # its note-off
    tracker.rehearse(0, 64, 90)  # a note-on to come
    assert [(m.type, m.note) for _, m in port.sent] == [("note_on", 60)]
    assert tracker.sounding == {(0, 60): "a"}


@pytest.mark.parametrize("permitted", [True, False])
def test_the_realtime_default_says_what_it_got_and_plays_either_way(generator, monkeypatch, caplog, permitted):
    import os

    policies = []

    def setscheduler(pid, policy, param):
        if not permitted and policy == os.SCHED_FIFO:
            raise PermissionError(1, "Operation not permitted")
        policies.append(policy)

    monkeypatch.setattr(os, "sched_setscheduler", setscheduler)
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    session = LiveSession(generator, MOODS, ControlMap(), port, clock, SessionOptions(background=False, realtime=True))
    with caplog.at_level(logging.INFO):
        session.run(bars=2)
    expected = "real-time priority (SCHED_FIFO)" if permitted else "normal priority; real-time scheduling is not permitted"
    assert caplog.text.count("clock thread:") == 1 and expected in caplog.text
    assert (os.SCHED_FIFO in policies) == permitted
    assert len(list(session.sequencer.bar_starts)) == 2 and not note_pairs(port.sent)[1]


def test_the_composer_is_told_how_soon_each_bar_is_wanted_and_nothing_before_the_music_starts_or_after_it_stops(generator):
    clock = FakeClock(start=1000.0)
    session = LiveSession(generator, MOODS, ControlMap(), MemoryOutput(clock.now), clock,
                          SessionOptions(bpm=120.0, seed=7, background=False))
    assert session.seconds_until(0) is None and session.steps_played(0) == 0  # nothing plays yet
    seen, played = [], []

    def at_bar(started) -> None:
        if started.number == 2:  # bar 2 (composer index 1) starts now: a bar lasts 2 s, a beat 0.5 s
            clock.sleep_until(clock.now() + 0.3)
            seen.append((session.seconds_until(2), session.seconds_until(3), session.seconds_until(1)))
            played.append((session.steps_played(1), session.steps_played(2)))

    session.sequencer.on_bar = at_bar
    session.run(4)
    (next_bar, after, playing), = seen
    assert next_bar == pytest.approx(2.0 - 0.3, abs=0.02)  # bars are fetched a moment before they start
    assert after == pytest.approx(next_bar + 2.0, abs=1e-6)
    assert playing == pytest.approx(0.2, abs=0.02)  # the bar playing is wanted from its next beat on
    assert session.seconds_until(5) is None  # stopped: no hurry is known
    assert played == [(4, 0)]  # 0.3 s into bar 2, a remake of it keeps its first beat (4 steps); bar 3 has not begun
