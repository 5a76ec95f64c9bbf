"""The composer and a player's steer: a bar made for a chord no longer held is abandoned, a knob's move lets it finish,
and each bar is made knowing how soon it is wanted."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from livegan.generation.bar import Bar, Cancelled, Morph
from livegan.generation.composer import Composer
from livegan.generation.runtimes import Made, keep_phrase
from livegan.mood.presets import Mood

C_MAJOR = Mood("calm", 0.5, -0.2).harmonized((0, 4, 7), 0)
F_MAJOR = C_MAJOR.harmonized((0, 5, 9), 5)


class SlowRuntime:
    """Makes a bar in 40 steps of 10 ms, asking between steps whether to go on; records every attempt."""

    opening = None

    def __init__(self) -> None:
        self.attempts: list[tuple[int, tuple[int, ...], float | None, str]] = []
        self.started = threading.Event()
        self.keeps: list[tuple[int, int]] = []

    def make(self, index, morph, budget=None, stop=None, keep=0) -> Made:
        mood = morph.at(index)
        self.keeps.append((index, keep))
        self.started.set()
        for _ in range(40):
            if stop is not None and stop():
                self.attempts.append((index, mood.chord, budget, "abandoned"))
                raise Cancelled
            time.sleep(0.01)
        self.attempts.append((index, mood.chord, budget, "made"))
        return Made({index: Bar(index, [], mood, morph.version, 0.4)}, {})

    def keep(self, bars, made, low):
        return keep_phrase(bars, made, low)

    def close(self) -> None:
        pass

    def shift(self, after: int, offset: int) -> None:
        pass


def _composer(runtime, now, due=None, lookahead=1) -> Composer:
    composer = Composer(runtime, mood_now=lambda: now["mood"], lookahead=lookahead, due=due)
    composer.idle_wait = 0.01
    return composer


def _bar(composer: Composer, index: int) -> Bar | None:
    """Bar ``index`` as the composer holds it now (taking it would move the playhead)."""
    with composer._cond:
        return composer._bars.get(index)


def _wait(predicate, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert predicate()


@pytest.mark.parametrize("by", ["a message", "time alone"])
def test_a_bar_being_made_for_a_chord_no_longer_held_is_abandoned_and_made_for_the_new_one(by):
    runtime, now = SlowRuntime(), {"mood": (0, C_MAJOR)}
    composer = _composer(runtime, now)
    composer.steered_by_time = by == "time alone"  # a chord settles 40 ms after its last key: no message then
    composer.start()
    try:
        _wait(runtime.started.is_set)
        now["mood"] = (1, F_MAJOR)  # the player changes chord while bar 1 is being made
        if by == "a message":
            composer.wake()
        _wait(lambda: _bar(composer, 0) is not None and _bar(composer, 0).mood.chord == F_MAJOR.chord)
    finally:
        composer.stop()
    assert runtime.attempts[0][:2] == (0, C_MAJOR.chord) and runtime.attempts[0][3] == "abandoned"
    assert runtime.attempts[1][:2] == (0, F_MAJOR.chord) and runtime.attempts[1][3] == "made"
    assert composer.cancelled == 1


def test_a_knob_moved_while_a_bar_is_made_lets_it_finish_then_remakes_it():
    runtime, now = SlowRuntime(), {"mood": (0, C_MAJOR)}
    composer = _composer(runtime, now)
    composer.start()
    try:
        _wait(runtime.started.is_set)
        now["mood"] = (1, replace(C_MAJOR, valence=-0.5))  # a knob: same chord, another mood
        composer.wake()
        _wait(lambda: _bar(composer, 0) is not None and _bar(composer, 0).version == 1)
    finally:
        composer.stop()
    assert [a[3] for a in runtime.attempts[:2]] == ["made", "made"] and composer.cancelled == 0


def test_each_bar_is_made_knowing_the_time_left_until_it_is_wanted():
    runtime, now = SlowRuntime(), {"mood": (0, C_MAJOR)}
    composer = _composer(runtime, now, due=lambda index: 1.0 + index, lookahead=2)
    composer.start()
    try:
        _wait(lambda: len(runtime.attempts) >= 2)
    finally:
        composer.stop()
    (i0, _, budget0, _), (i1, _, budget1, _) = runtime.attempts[:2]
    assert (i0, i1) == (0, 1)
    assert 0.9 < budget0 < 1.0 and 1.9 < budget1 < 2.0  # the time left, less the hand-over to the sequencer


def test_a_render_makes_every_bar_without_a_budget_or_a_way_to_stop_it():
    runtime, now = SlowRuntime(), {"mood": (0, C_MAJOR)}
    composer = Composer(runtime, mood_now=lambda: now["mood"], lookahead=1, background=False, due=lambda index: 0.0)
    assert composer.take(0) is not None
    assert runtime.attempts[0] == (0, C_MAJOR.chord, None, "made")


def test_a_bar_remade_while_it_plays_keeps_the_steps_played_by_its_next_beat():
    runtime, now = SlowRuntime(), {"mood": (0, C_MAJOR)}
    composer = Composer(runtime, mood_now=lambda: now["mood"], lookahead=1, include_current=True,
                        played=lambda index: 8, due=lambda index: 0.5)
    composer.idle_wait = 0.01
    composer.start()
    try:
        _wait(lambda: _bar(composer, 0) is not None)
        assert composer.take(0) is not None  # bar 1 plays
        now["mood"] = (1, F_MAJOR)  # --switch beat: the bar playing is remade from its next beat
        composer.wake()
        _wait(lambda: _bar(composer, 0) is not None and _bar(composer, 0).mood.chord == F_MAJOR.chord)
    finally:
        composer.stop()
    assert runtime.keeps[0] == (0, 0) and (0, 8) in runtime.keeps[1:]  # made whole first, remade keeping 2 beats
