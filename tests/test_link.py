"""Ableton Link: LiveGAN joins a Link session, starts on its bar line and follows its tempo.

A second Link instance in the test plays Ableton Live's part (Link peers find each
other over the loopback interface); no mock of Link is involved.
"""

import time

import link
import numpy as np
import pytest
from onnx_models import build_model

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import MonotonicClock
from livegan.timing.link import LinkTransport


@pytest.fixture
def live_peer():
    """A Link peer at 100 BPM, standing in for Ableton Live."""
    peer = link.Link(100.0)
    peer.enabled = True
    yield peer
    peer.enabled = False


def peer_beats(peer, times_micros):
    state = peer.captureAppSessionState()
    return np.array([state.beatAtTime(int(t), 4.0) for t in times_micros])


def wait_for_peers(transport, peer, timeout=5.0):
    """Wait until the peer is found and both share one session tempo (Link merges sessions in the background).

    Which of the two tempos the merged session keeps is Link's choice, not ours.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (transport.session.numPeers() == 0 or
                                           abs(transport.bpm - peer.captureAppSessionState().tempo()) > 0.01):
        time.sleep(0.05)
    assert transport.session.numPeers() == 1
    assert transport.bpm == pytest.approx(peer.captureAppSessionState().tempo(), abs=0.01)
    return transport.bpm


def test_livegan_shares_the_sessions_tempo_and_starts_on_its_next_bar_line(live_peer):
    transport = LinkTransport(MonotonicClock(), bpm=140, steps_per_beat=4, beats_per_bar=4)
    try:
        bpm = wait_for_peers(transport, live_peer)  # one shared session tempo
        assert transport.wait_for_start() == 0.0
        start = transport.time_of(0)
        assert transport.origin % 4 == pytest.approx(0, abs=1e-6)  # a bar line of the session
        assert start - transport.clock.now() <= 60 / bpm * 4 + 0.01
        assert transport.time_of(16) - start == pytest.approx(60 / bpm * 4, abs=1e-4)  # one 4/4 bar
        peer_state = live_peer.captureAppSessionState()
        start_micros = (start - transport._offset) * 1e6
        phase = peer_state.phaseAtTime(int(round(start_micros)), 4.0)
        assert min(phase, 4.0 - phase) < 0.01  # on the peer's bar line (phase 0, modulo the bar)
    finally:
        transport.close()


def test_a_tempo_change_by_a_peer_is_followed(live_peer):
    transport = LinkTransport(MonotonicClock(), bpm=100, steps_per_beat=4, beats_per_bar=4)
    try:
        wait_for_peers(transport, live_peer)
        transport.wait_for_start()
        state = live_peer.captureAppSessionState()
        state.setTempo(150.0, live_peer.clock().micros())
        live_peer.commitAppSessionState(state)
        deadline = time.monotonic() + 5
        while abs(transport.bpm - 150) > 0.01 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert transport.time_of(20) - transport.time_of(16) == pytest.approx(0.4, abs=1e-4)  # a beat at 150 BPM
    finally:
        transport.close()


def test_notes_played_with_link_fall_on_the_peers_sixteenth_grid(live_peer, tmp_path):
    clock = MonotonicClock()
    generator = OnnxGenerator(build_model(tmp_path / "m.onnx", bias=-3.0))
    port = MemoryOutput(lambda: live_peer.clock().micros())  # stamp sends on Link's own clock
    session = LiveSession(generator, [Mood("m", 0, 0, swing=0.0)], ControlMap(), port, clock,
                          SessionOptions(clock="link", bpm=100, seed=1))
    wait_for_peers(session.transport, live_peer)
    session.run(bars=2)
    onsets = [t for t, m in port.sent if m.type == "note_on"]
    assert len(onsets) > 10
    sixteenths = peer_beats(live_peer, onsets) * 4
    assert np.abs(sixteenths - np.round(sixteenths)).max() < 0.05  # within 5 % of a 16th (7.5 ms)
    assert np.round(sixteenths).min() % 16 == pytest.approx(0, abs=1)  # bar 1 begins on a bar line
