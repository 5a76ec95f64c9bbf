"""DAW-facing behaviour on a fake clock: sending clock, morphing, beat switching, mutes, density."""

import mido
import numpy as np
import pytest
from onnx_models import build_model

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import FakeClock

MOODS = [Mood("bright", 0.8, 0.6, velocity=100, dynamics=4), Mood("dark", -0.6, -0.6, velocity=40, dynamics=4)]


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    return OnnxGenerator(build_model(tmp_path_factory.mktemp("m") / "tiny.onnx", bias=-2.5))


def session(generator, at=None, bars=6, **options):
    """Run a simulated session; ``at`` maps a bar number to messages sent when that bar starts."""
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    moods_seen = []
    box = []

    def on_bar(bar):
        moods_seen.append(bar.mood)
        for msg in (at or {}).get(bar.number, []):
            box[0].on_message(msg)

    live = LiveSession(generator, MOODS, ControlMap(), port, clock,
                       SessionOptions(seed=3, background=False, **options), on_bar=on_bar)
    box.append(live)
    live.run(bars)
    return live, port.sent, moods_seen


def test_send_clock_emits_start_ticks_and_stop(generator):
    live, sent, _ = session(generator, bars=2, send_clock=True, bpm=120)
    kinds = [m.type for _, m in sent]
    assert kinds.index("start") < kinds.index("clock") < kinds.index("note_on")
    tick_times = np.array([t for t, m in sent if m.type == "clock"])
    assert len(tick_times) == 2 * 4 * 24  # two bars of 4/4
    assert np.allclose(np.diff(tick_times), 0.5 / 24)
    assert tick_times[0] == live.sequencer.bar_starts[0]
    assert kinds[-1] == "stop" or "stop" in kinds[-10:]


def test_a_morph_over_two_bars_passes_through_the_middle(generator):
    _, _, moods = session(generator, at={2: [mido.Message("program_change", program=1)]}, bars=6, morph_bars=2)
    valence = [round(m.valence, 2) for m in moods]
    assert valence == [0.8, 0.8, 0.1, -0.6, -0.6, -0.6]  # bar 3 is half-way, bar 4 has arrived
    assert [m.velocity for m in moods][2] == 70


def test_without_a_morph_the_change_lands_whole_at_the_next_bar(generator):
    _, _, moods = session(generator, at={2: [mido.Message("program_change", program=1)]}, bars=4)
    assert [m.name for m in moods] == ["bright", "bright", "dark", "dark"]


def test_switch_on_the_beat_changes_velocities_from_the_next_beat(generator):
    live, sent, _ = session(generator, bars=3, switch="beat",
                            at={2: [mido.Message("program_change", program=1)]})
    bar2 = live.sequencer.bar_starts[1]
    beat = 0.5
    loud = [m.velocity for t, m in sent if m.type == "note_on" and bar2 + 1e-9 < t < bar2 + beat]
    soft = [m.velocity for t, m in sent if m.type == "note_on" and t >= bar2 + beat]
    # The change arrives at bar 2's start: bar 2 was fetched already, so its first beat stays bright.
    assert loud and soft and min(loud) > 70 > max(soft)


def test_a_mute_switch_silences_its_track_from_the_next_bar_and_releases_it(generator):
    live, sent, _ = session(generator, bars=4, at={2: [mido.Message("control_change", control=25, value=127)]})
    bar3 = live.sequencer.bar_starts[2]
    piano = generator.info.channels[1]
    assert any(m.channel == piano for t, m in sent if m.type == "note_on" and t < bar3)
    assert not any(m.channel == piano for t, m in sent if m.type == "note_on" and t >= bar3)


def test_the_density_knob_adds_notes(generator):
    def notes(value):
        _, sent, _ = session(generator, bars=3, at={1: [mido.Message("control_change", control=23, value=value)]})
        return sum(1 for _, m in sent if m.type == "note_on")

    assert notes(127) > 1.3 * notes(0)
