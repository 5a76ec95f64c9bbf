"""Soak: ten hours at 300 BPM on a simulated clock. Bar k starts at exactly t0 + k * bar, and
memory stays flat. (benchmarks/soak.py runs the real clock for ten minutes.)"""

import gc
import resource

import mido
import numpy as np
from onnx_models import build_model

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.timing.clock import FakeClock

BPM, HOURS = 300, 10


class CountingPort(mido.ports.BaseOutput):
    """Counts what it is sent and keeps nothing, so the port itself does not grow."""

    def __init__(self):
        self.count = 0
        super().__init__("count")

    def _send(self, msg):
        self.count += 1


class CachedGenerator:
    """The tiny ONNX model's output for one latent, replayed: the soak is about time and memory, not music."""

    def __init__(self, path):
        model = OnnxGenerator(path)
        self.info, self.latents = model.info, model.latents
        z = np.random.default_rng(0).standard_normal((1, 8), dtype=np.float32)
        self.roll = model.generate({"z": z}, np.zeros((1, 2), np.float32))

    def generate(self, latents, mood):
        return np.repeat(self.roll, len(mood), axis=0)


def test_ten_hours_at_300_bpm_start_every_bar_on_time_with_flat_memory(tmp_path):
    generator = CachedGenerator(build_model(tmp_path / "m.onnx", bias=-4.0))
    bar_seconds = 60 / BPM * 4
    bars = int(HOURS * 3600 / bar_seconds)
    clock = FakeClock(start=123.456, lateness=0.0003)  # every wake-up 0.3 ms late
    worst, samples = [0.0], {}

    def on_bar(bar):
        k = bar.number - 1
        t0 = session.sequencer.bar_starts[0] if k == 0 else on_bar.t0
        on_bar.t0 = t0
        worst[0] = max(worst[0], abs(session.sequencer.bar_starts[-1] - (t0 + k * bar_seconds)))
        if k in (bars // 10, bars - 1):
            gc.collect()
            samples[k] = (len(gc.get_objects()), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    port = CountingPort()
    session = LiveSession(generator, [Mood("m", 0.0, 0.0)], ControlMap(), port, clock,
                          SessionOptions(bpm=BPM, seed=0, background=False), on_bar=on_bar)
    session.run(bars)
    assert session.sequencer.bars_played == bars == 45_000
    assert worst[0] < 1e-6  # no drift after ten hours (floating point is exact to ~1e-11 here)
    (objects_1h, rss_1h), (objects_10h, rss_10h) = samples[bars // 10], samples[bars - 1]
    assert objects_10h - objects_1h < 1000, f"{objects_10h - objects_1h} more live objects at hour 10 than at hour 1"
    assert rss_10h - rss_1h < 8 * 1024, f"peak RSS grew by {rss_10h - rss_1h} KiB between hour 1 and hour 10"
    assert port.count > bars
