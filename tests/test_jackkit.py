"""The real-JACK test harness records exactly what a port sends, and cleans up after itself.

These are checks of the harness, not timing benchmarks: tolerances are generous.
"""

from __future__ import annotations

import glob
import os
import time

import jackkit
import mido
import pytest
from jackkit import (
    Event,
    JackServer,
    MidiDump,
    parse_event_line,
    pid_alive,
    to_messages,
)

PORT = "LiveGAN Out"
CLIENT = "livegan"
SPACING_S = 0.100
TOLERANCE_S = 0.015


def open_jack_output() -> mido.ports.BaseOutput:
    """Open the same kind of port the daemon opens: an rtmidi virtual output on JACK."""
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    return backend.open_output(PORT, virtual=True, client_name=CLIENT)


def send_on_deadlines(port: mido.ports.BaseOutput, messages: list[mido.Message]) -> list[float]:
    """Send message k at ``start + k * SPACING_S`` (monotonic); return the actual send times."""
    start = time.monotonic()
    sent: list[float] = []
    for k, message in enumerate(messages):
        time.sleep(max(0.0, start + k * SPACING_S - time.monotonic()))
        sent.append(time.monotonic())
        port.send(message)
    return sent


def test_event_lines_parse_to_frames_seconds_and_bytes() -> None:
    line = "  34816: 90 3c 64 note on  (channel  0): pitch  60, velocity 100\n"
    assert parse_event_line(line, 48_000) == Event(34816, 34816 / 48_000, b"\x90\x3c\x64")
    assert parse_event_line("    960: f0 01 02 03 f7\n", 48_000) == Event(960, 0.02, b"\xf0\x01\x02\x03\xf7")
    assert parse_event_line("  10: b0 7 3 control change\n", 48_000).data == b"\xb0\x07\x03"
    assert parse_event_line("Shutting down\n", 48_000) is None
    assert parse_event_line("Cannot connect to server socket err = 2\n", 48_000) is None


def test_events_become_mido_messages_stamped_in_seconds() -> None:
    events = [Event(4800, 0.1, b"\x90\x3c\x64"), Event(9600, 0.2, b"\x80\x3c\x40")]
    assert to_messages(events) == [
        mido.Message("note_on", note=60, velocity=100, time=0.1),
        mido.Message("note_off", note=60, velocity=64, time=0.2),
    ]


@pytest.mark.parametrize("environ, required", [
    ({}, False),
    ({"CI": "true"}, True),
    ({"CI": "false"}, False),
    ({"LIVEGAN_REQUIRE_JACK": "1"}, True),
    ({"LIVEGAN_REQUIRE_JACK": "0"}, False),
])
def test_ci_or_require_flag_turns_missing_jack_into_failure(environ: dict[str, str], required: bool) -> None:
    assert jackkit.jack_required(environ) is required


def test_missing_jackd_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jackkit, "missing_tools", lambda: ["jackd"])
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("LIVEGAN_REQUIRE_JACK", raising=False)
    with pytest.raises(pytest.skip.Exception, match="jackd"):
        jackkit.ensure_jack_tools()
    monkeypatch.setenv("LIVEGAN_REQUIRE_JACK", "1")
    with pytest.raises(pytest.fail.Exception, match="jackd"):
        jackkit.ensure_jack_tools()


def test_server_runs_under_its_own_name_and_lists_ports(jack_server: JackServer) -> None:
    assert jack_server.name.startswith(f"livegan-test-{os.getpid()}-")
    assert os.environ["JACK_DEFAULT_SERVER"] == jack_server.name
    assert jack_server.env["JACK_DEFAULT_SERVER"] == jack_server.name
    assert "system:playback_1" in jack_server.ports()
    assert "system:playback_1" not in jack_server.ports(midi_only=True)
    with pytest.raises(TimeoutError, match="no JACK port 'nobody:here'"):
        jack_server.wait_for_port("nobody:here", timeout=0.1)


def test_dump_records_exactly_the_bytes_sent_at_their_spacing(jack_server, midi_dump) -> None:
    messages = [
        mido.Message("note_on", note=60, velocity=100),
        mido.Message("note_off", note=60, velocity=0),
        mido.Message("note_on", note=64, velocity=90, channel=9),
        mido.Message("note_off", note=64, velocity=64, channel=9),
        mido.Message("control_change", control=7, value=3),
        mido.Message("sysex", data=[1, 2, 3]),
    ]
    with open_jack_output() as port:
        assert f"{CLIENT}:{PORT}" in jack_server.ports(midi_only=True)
        dump = midi_dump(source=f"{CLIENT}:{PORT}")
        sent = send_on_deadlines(port, messages)
        events = dump.wait_for(len(messages), timeout=5.0)
    assert [e.data for e in events] == [m.bin() for m in messages]
    assert [m.copy(time=0) for m in to_messages(events)] == messages
    overload = f"; jackd reported {jack_server.xruns()} xruns (overloaded machine?)"
    for k, event in enumerate(events):
        recorded = event.time - events[0].time
        expected = sent[k] - sent[0]
        assert recorded == pytest.approx(expected, abs=TOLERANCE_S), f"event {k}{overload}"
        assert recorded == pytest.approx(k * SPACING_S, abs=TOLERANCE_S), f"event {k}{overload}"


def test_dump_keeps_a_burst_far_larger_than_jack_midi_dumps_127_messages(jack_server, midi_dump) -> None:
    """What a stalled server delivers in one period, the recorder keeps whole and in order."""
    messages = [mido.Message("note_on" if k % 2 == 0 else "note_off", channel=k % 16, note=k % 128, velocity=1 + k % 127)
                for k in range(1000)]
    with open_jack_output() as port:
        dump = midi_dump(source=f"{CLIENT}:{PORT}")
        for msg in messages:  # as fast as rtmidi takes them: a few periods at most
            port.send(msg)
        events = dump.wait_for(len(messages), timeout=10.0)
    assert [e.data for e in events] == [m.bin() for m in messages]
    assert len({e.frame for e in events}) < 100  # it was a burst, not a trickle


def test_stop_leaves_no_process_behind() -> None:
    jackkit.ensure_jack_tools()
    with JackServer() as server:
        dump = MidiDump(server)
        server_pid, dump_pid = server.pid, dump.pid
        assert pid_alive(server_pid) and pid_alive(dump_pid)
        assert dump.port in server.ports(midi_only=True)
        assert dump.stop() == []
        assert not pid_alive(dump_pid)
        assert dump.port not in server.ports()
    assert not pid_alive(server_pid)
    assert glob.glob(f"/dev/shm/jack_sem.*{glob.escape(server.name)}_*") == []
    assert server.stop() is None  # stopping twice is harmless


def test_a_server_that_cannot_start_says_why() -> None:
    jackkit.ensure_jack_tools()
    with JackServer() as first:
        with pytest.raises((RuntimeError, TimeoutError), match=first.name):
            JackServer(name=first.name, start_timeout=5.0)
        assert first.ports()
