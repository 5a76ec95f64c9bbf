"""Generation in a worker process: the same bars as in the daemon's own process, and a dead worker stops cleanly."""

from __future__ import annotations

import os
import signal

import pytest
from onnx_models import build_model, build_step_model

from livegan.generation.composer import make_composer
from livegan.generation.worker import WorkerSpec
from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import load_model
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import FakeClock

BRIGHT = Mood("bright", 0.8, 0.6, velocity=100, dynamics=10)
DARK = Mood("dark", -0.6, -0.5, velocity=50, dynamics=10)


@pytest.fixture(params=["phrase", "step"])
def model(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "step":
        return build_step_model(folder / "step.onnx")
    return build_model(folder / "phrase.onnx", bias=-3.0)


def test_a_worker_makes_the_bars_the_daemons_own_process_makes(model):
    generator = load_model(model)
    mood = {"now": (0, BRIGHT)}
    composers = [make_composer(generator, mood_now=lambda: mood["now"], seed=4, guide=8, morph_bars=2, background=False,
                               worker=worker) for worker in (None, WorkerSpec(model))]
    try:
        bars = {id(c): [] for c in composers}
        for index in range(7):
            if index == 3:
                mood["now"] = (1, DARK)  # a switch: bars ahead are remade, a step model's from the bar played
            for c in composers:
                bars[id(c)].append(c.take(index))
        local, remote = (bars[id(c)] for c in composers)
        assert [b.notes for b in remote] == [b.notes for b in local]
        assert [b.mood for b in remote] == [b.mood for b in local] and sum(len(b.notes) for b in local) > 20
    finally:
        for c in composers:
            c.stop()
    assert not composers[1].runtime._process.is_alive()  # stopping the composer stops its worker


def test_a_worker_that_dies_stops_the_session_with_an_error_and_every_note_released(tmp_path):
    model = build_model(tmp_path / "m.onnx", bias=-3.0)
    generator = load_model(model)
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    box = []

    def kill_the_worker_at_bar_2(started) -> None:
        if started.number == 2:
            os.kill(box[0].composer.runtime._process.pid, signal.SIGKILL)

    box.append(LiveSession(generator, [BRIGHT], ControlMap(), port, clock, SessionOptions(seed=1, background=False, lookahead=1),
                           on_bar=kill_the_worker_at_bar_2, worker=WorkerSpec(model)))
    session = box[0]
    with pytest.raises(RuntimeError, match="generation failed.*worker died"):
        session.run(bars=16)
    assert port.sent[-1][1].type == "control_change" and port.sent[-1][1].control == 123  # All Notes Off last
    sounding = set()
    for _, m in port.sent:
        if m.type == "note_on" and m.velocity:
            sounding.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            sounding.discard((m.channel, m.note))
    assert not sounding
