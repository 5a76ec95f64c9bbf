"""Bad and hostile MIDI input: anything a port can deliver is recorded or ignored, never raised."""

import threading
import time

import mido
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx_models import build_model
from test_stops import assert_released

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap, cc_to_unit
from livegan.mood.presets import load_moods
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import FakeClock, MonotonicClock

_GENERATOR = None


def generator():
    global _GENERATOR
    if _GENERATOR is None:
        import tempfile
        from pathlib import Path

        _GENERATOR = OnnxGenerator(build_model(Path(tempfile.mkdtemp()) / "tiny.onnx", bias=-2.5))
    return _GENERATOR


def new_session(real_clock=None, model=None, **options):
    clock = FakeClock() if real_clock is None else real_clock
    return LiveSession(model or generator(), load_moods(), ControlMap(), MemoryOutput(clock.now), clock,
                       SessionOptions(seed=1, **options))


def any_message():
    """Every kind of message mido can make, with values anywhere in their legal ranges."""
    channel, data7 = st.integers(0, 15), st.integers(0, 127)
    return st.one_of(
        st.builds(lambda c, n, v: mido.Message("note_on", channel=c, note=n, velocity=v), channel, data7, data7),
        st.builds(lambda c, n, v: mido.Message("note_off", channel=c, note=n, velocity=v), channel, data7, data7),
        st.builds(lambda c, k, v: mido.Message("control_change", channel=c, control=k, value=v), channel, data7, data7),
        st.builds(lambda c, p: mido.Message("program_change", channel=c, program=p), channel, data7),
        st.builds(lambda c, v: mido.Message("pitchwheel", channel=c, pitch=v), channel, st.integers(-8192, 8191)),
        st.builds(lambda c, v: mido.Message("aftertouch", channel=c, value=v), channel, data7),
        st.builds(lambda d: mido.Message("sysex", data=d), st.lists(data7, max_size=64)),
        st.builds(lambda p: mido.Message("songpos", pos=p), st.integers(0, 16383)),
        st.sampled_from([mido.Message(t) for t in ("clock", "start", "stop", "continue", "reset", "active_sensing", "tune_request")]),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(any_message(), max_size=40))
def test_any_message_sequence_leaves_a_valid_mood(messages):
    session = new_session()
    for msg in messages:
        session.on_message(msg)
    version, mood = session.mood_now()
    assert -1 <= mood.valence <= 1 and -1 <= mood.arousal <= 1 and -1 <= mood.density <= 1
    assert mood.name in {m.name for m in session.presets}
    assert session.muted_now() <= set(range(8))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_running_status_and_truncated_sysex_parse_into_harmless_messages(data):
    def mood_after(tail: bytes):
        session = new_session(clock="external")
        parser = mido.Parser()
        parser.feed(data + bytes([0xF0, 0x01, 0x02]) + tail)  # a sysex cut short by the next status byte
        for msg in parser:
            session.on_message(msg)  # never raises, whatever came before
        return session.mood_now()[1]

    # The knob move after the garbage lands; data bytes in running status (mido's parser, like
    # rtmidi's callers, drops them) are ignored rather than misread as another control.
    mood = mood_after(bytes([0xB0, 21, 5, 22, 6]))
    assert mood.valence == pytest.approx(cc_to_unit(5))
    assert mood == mood_after(bytes([0xB0, 21, 5]))


def test_a_flood_of_knob_moves_while_playing_is_absorbed(tmp_path):
    """10,000 messages a second for two seconds: playback goes on, notes are released, and the
    composer remakes bars a few times per bar, not once per message."""
    generations = []

    class Counting:
        info, latents = generator().info, generator().latents

        def generate(self, latents, mood):
            generations.append(time.perf_counter())
            return generator().generate(latents, mood)

    clock = MonotonicClock()
    session = new_session(clock, model=Counting(), bpm=240)
    rng = np.random.default_rng(7)
    stop_flood = threading.Event()
    sent = [0]

    def flood():
        start = time.perf_counter()
        while not stop_flood.is_set() and time.perf_counter() - start < 2.0:
            for _ in range(100):
                session.on_message(mido.Message("control_change", control=int(rng.choice([20, 21, 22, 23, 7])),
                                                value=int(rng.integers(0, 128)), channel=int(rng.integers(0, 16))))
                sent[0] += 1
            time.sleep(0.01)

    flooder = threading.Thread(target=flood)
    flooder.start()
    session.run(bars=3)  # 3 s at 240 BPM
    stop_flood.set()
    flooder.join()
    assert sent[0] > 10_000
    assert_released(session.tracker.port.sent)
    assert session.sequencer.bars_played == 3
    assert len(generations) < 3 * (1.0 / 0.04 + 4)  # bounded by the remake interval, not by the flood
