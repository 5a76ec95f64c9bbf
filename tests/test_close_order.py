"""On the way out, each JACK port leaves while its client is open and the graph has settled; then the clients close.

libjack removes an unregistered port from its client's port list on the caller's thread, while the client's
notification thread may be walking that list for a latency callback (sent to every client after each change
to the graph), with no lock between them: the daemon died of SIGSEGV on Ctrl-C when a port left right after
another change (the watchdog's client closing). ``close_ports`` settles before each port leaves.
"""

from __future__ import annotations

import time

import mido
import pytest

from livegan.commands.run import _settle, close_ports
from livegan.ports.midi import PolledInput
from livegan.ports.taps import TapOutput


class FakeRtmidiIn:
    """rtmidi's MidiIn as PolledInput uses it: an empty queue whose reads are counted; close_port and delete
    recorded."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.reads = 0

    def get_message(self) -> None:
        self.reads += 1

    def close_port(self) -> None:
        self.calls.append("input port leaves")

    def delete(self) -> None:
        self.calls.append("input client closes")


class FakeOutput(mido.ports.BaseOutput):
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        super().__init__("LiveGAN Out")

    def _send(self, msg: mido.Message) -> None:
        self.calls.append(f"sent {msg.type}")

    def unregister(self) -> None:
        self.calls.append("output port leaves")

    def _close(self) -> None:
        self.calls.append("output client closes")


class FakeWatchdog:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def settle(self) -> None:
        self.calls.append("settle")

    def close(self) -> None:
        self.calls.append("watchdog client closes")


class FakeTap:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def __call__(self, msg: mido.Message) -> None:
        pass

    def close(self) -> None:
        self.calls.append("take written")


def test_each_port_leaves_after_the_graph_settled_and_every_client_closes_after_the_last_port():
    calls: list[str] = []
    inport = PolledInput(FakeRtmidiIn(calls), "LiveGAN In", lambda msg, arrival: None)
    watchdog = FakeWatchdog(calls)
    port = TapOutput(FakeOutput(calls), [FakeTap(calls)])

    close_ports(port, inport, watchdog, watchdog.settle, drain=0.0)

    assert calls == ["settle", "input port leaves", "settle", "output port leaves",
                     "input client closes", "output client closes", "take written", "watchdog client closes"]
    assert inport.closed and port.closed


def test_the_input_stops_reading_before_the_note_offs_drain_and_its_port_leaves():
    calls: list[str] = []
    midi_in = FakeRtmidiIn(calls)
    inport = PolledInput(midi_in, "LiveGAN In", lambda msg, arrival: None)
    settled_at: list[float] = []

    def settle() -> None:
        if not settled_at:
            settled_at.append(time.monotonic())
            reads = midi_in.reads
            time.sleep(0.02)  # ten polling intervals
            assert midi_in.reads == reads, "nothing reads the input once closing began"

    started = time.monotonic()
    close_ports(FakeOutput(calls), inport, None, settle, drain=0.05)
    assert settled_at[0] - started >= 0.05  # the driver had its periods to deliver the last note-offs
    assert calls[-2:] == ["input client closes", "output client closes"]


@pytest.mark.parametrize("api", ["alsa", "coremidi", "winmm"])
def test_only_jack_waits_for_the_graph(api):
    started = time.monotonic()
    _settle(api, None)()
    assert time.monotonic() - started < 0.01


def test_under_jack_without_a_watchdog_settling_is_a_wait():
    started = time.monotonic()
    _settle("jack", None)()
    assert time.monotonic() - started >= 0.04
