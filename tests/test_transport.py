"""Following a DAW's MIDI clock: tempo from jittery ticks, Start/Stop/Continue, Song Position."""

import threading

import mido
import numpy as np
import pytest

from livegan.timing.clock import FakeClock, MonotonicClock
from livegan.timing.transport import (
    InternalTransport,
    MidiClockFollower,
    TempoEstimator,
    Wait,
)


def ticks(bpm, count, start=0.0, jitter=0.0, seed=0):
    rng = np.random.default_rng(seed)
    period = 60 / bpm / 24
    return start + np.arange(count) * period + rng.uniform(-jitter, jitter, count)


def test_tempo_from_clock_with_loopmidi_like_jitter_is_steady():
    est, errors = TempoEstimator(window=24), []
    for k, t in enumerate(ticks(120, 480, jitter=0.001)):
        est.add(k, t)
        if k >= 24:
            errors.append(est.bpm - 120)
    errors = np.abs(errors)
    assert np.median(errors) < 0.5 and errors.max() < 2.0  # a 1 ms jitter per tick is 5 % of a tick


def test_a_tempo_change_is_followed_within_a_beat():
    est = TempoEstimator(window=24)
    before = ticks(100, 96)
    after = ticks(130, 48, start=before[-1] + 60 / 130 / 24)
    for k, t in enumerate(np.concatenate([before, after])):
        est.add(k, t)
    assert est.bpm == pytest.approx(130, rel=0.005)


def test_a_gap_in_the_clock_resets_the_estimate():
    est = TempoEstimator(window=24, max_gap=0.5)
    for k, t in enumerate(ticks(90, 48)):
        est.add(k, t)
    est.add(48, 10.0)
    assert len(est.ticks) == 1 and est.bpm is None


def test_start_makes_the_next_tick_bar_one_and_positions_follow_the_fitted_line():
    follower = MidiClockFollower(FakeClock(), steps_per_beat=4)
    follower.record(mido.Message("start"), 0.0)
    clock_ticks = ticks(120, 30, start=1.0)
    follower.record(mido.Message("clock"), clock_ticks[0])
    assert follower.wait_for_start() == 0.0
    for t in clock_ticks[1:]:
        follower.record(mido.Message("clock"), t)
    assert follower.bpm == pytest.approx(120)
    assert follower.time_of(4) == pytest.approx(1.5)  # step 4 = beat 2 = tick 24, half a second in


def test_song_position_and_continue_resume_where_the_daw_says():
    follower = MidiClockFollower(FakeClock(), steps_per_beat=4)
    follower.record(mido.Message("songpos", pos=20), 0.0)  # 20 sixteenths = bar 2, beat 2
    follower.record(mido.Message("continue"), 0.01)
    follower.record(mido.Message("clock"), 0.02)
    assert follower.wait_for_start() == 20.0


def test_clock_while_stopped_does_not_move_the_playhead():
    follower = MidiClockFollower(FakeClock(), steps_per_beat=4)
    for t in ticks(120, 10):
        follower.record(mido.Message("clock"), t)
    follower.record(mido.Message("start"), 1.0)
    follower.record(mido.Message("clock"), 1.1)
    assert follower.wait_for_start() == 0.0


def test_stop_interrupts_a_wait_and_quit_ends_it():
    clock = MonotonicClock()
    follower = MidiClockFollower(clock, steps_per_beat=4)
    follower.record(mido.Message("start"))
    follower.record(mido.Message("clock"))
    follower.wait_for_start()
    threading.Timer(0.05, lambda: follower.record(mido.Message("stop"))).start()
    assert follower.wait_until(100.0) is Wait.STOPPED
    threading.Timer(0.05, clock.stop.set).start()
    assert follower.wait_for_start() is None


def test_the_internal_transport_counts_from_t0():
    clock = FakeClock(start=5.0)
    transport = InternalTransport(clock, bpm=120, steps_per_beat=4, t0=10.0)
    assert transport.wait_for_start() == 0.0
    assert transport.wait_until(8) is Wait.REACHED and clock.now() == 11.0
    assert transport.wait_for_start() is None  # it starts once
