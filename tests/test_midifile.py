"""Standard MIDI files of what LiveGAN sent: layout, timing, and a recording that survives a kill."""

from __future__ import annotations

import time

import mido
import pytest
from onnx_models import tiny_info

from livegan.errors import UserError
from livegan.model.contract import Track
from livegan.music.smf import (
    Layout,
    PlayedNote,
    SmfBuilder,
    _vlq,
    played_notes,
    smf_bytes,
)
from livegan.ports.memory import MemoryOutput
from livegan.ports.taps import Recorder, TapOutput, tap_output

LAYOUT = Layout((("Drums", 9), ("Piano", 0), ("Bass", 1)), bpm=120.0)


def on(ch: int, note: int, vel: int = 100) -> mido.Message:
    return mido.Message("note_on", channel=ch, note=note, velocity=vel)


def off(ch: int, note: int) -> mido.Message:
    return mido.Message("note_off", channel=ch, note=note)


def read(data: bytes, tmp_path) -> mido.MidiFile:
    path = tmp_path / "read.mid"
    path.write_bytes(data)
    return mido.MidiFile(path)


def channel_events(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    """(absolute tick, message) of a track's channel messages."""
    tick, out = 0, []
    for msg in track:
        tick += msg.time
        if not msg.is_meta:
            out.append((tick, msg.copy(time=0)))
    return out


@pytest.mark.parametrize("value, encoded", [(0, b"\x00"), (0x7F, b"\x7f"), (0x80, b"\x81\x00"),
                                            (0x2000, b"\xc0\x00"), (0x0FFFFFFF, b"\xff\xff\xff\x7f")])
def test_variable_length_quantities_follow_the_smf_spec(value, encoded):
    assert _vlq(value) == encoded


def test_a_file_has_a_conductor_then_one_named_track_per_instrument_on_its_channel(tmp_path):
    messages = [(0.0, mido.Message("program_change", channel=1, program=33)), (0.0, on(9, 36)), (0.0, on(0, 60)),
                (0.25, off(9, 36)), (0.5, on(1, 40)), (1.0, off(0, 60)), (1.5, off(1, 40))]
    mf = read(smf_bytes(messages, LAYOUT, seconds=2.0, markers=[(0.0, "bar 1: calm")]), tmp_path)

    assert mf.type == 1 and mf.ticks_per_beat == 480
    assert [t.name for t in mf.tracks] == ["LiveGAN", "Drums", "Piano", "Bass"]
    conductor = {m.type: m for m in mf.tracks[0]}
    assert mido.tempo2bpm(conductor["set_tempo"].tempo) == pytest.approx(120.0)
    assert (conductor["time_signature"].numerator, conductor["time_signature"].denominator) == (4, 4)
    assert conductor["marker"].text == "bar 1: calm"
    for track, channel in zip(mf.tracks[1:], (9, 0, 1)):
        assert {m.channel for _, m in channel_events(track)} == {channel}
    # 120 BPM at 480 ticks per beat: one second is 960 ticks.
    assert channel_events(mf.tracks[3]) == [(0, mido.Message("program_change", channel=1, program=33)),
                                            (480, on(1, 40)), (1440, off(1, 40).copy(velocity=64))]
    assert mf.length == pytest.approx(2.0)  # every track ends where the piece ends
    assert [sum(m.time for m in t) for t in mf.tracks] == [1920] * 4


def test_messages_an_smf_cannot_hold_are_skipped_and_unknown_channels_get_a_track(tmp_path):
    builder = SmfBuilder(LAYOUT)
    builder.add(0, mido.Message("clock"))
    builder.add(10, on(5, 64))
    mf = read(builder.to_bytes(), tmp_path)
    assert builder.skipped == 1
    assert mf.tracks[-1].name == "Channel 6" and channel_events(mf.tracks[-1]) == [(10, on(5, 64))]


def test_layout_for_a_model_names_its_tracks_and_puts_drums_on_channel_10():
    layout = Layout.for_model(tiny_info(tracks=(Track("Keys", 4), Track("Kit", 0, True), Track("Low", 33))), 96.0)
    assert layout.tracks == (("Keys", 0), ("Kit", 9), ("Low", 1))
    assert layout.ticks(0.625) == 480  # one beat at 96 BPM


def test_played_notes_pairs_ons_with_offs_like_a_synth_hears_them():
    messages = [(0.0, on(0, 60, 90)), (0.5, on(0, 60, 80)), (1.0, mido.Message("note_on", channel=0, note=60, velocity=0)),
                (1.0, on(9, 36)), (2.0, mido.Message("control_change", channel=0, control=123))]
    assert played_notes(messages) == [PlayedNote(0.0, 0.5, 0, 60, 90), PlayedNote(0.5, 1.0, 0, 60, 80),
                                      PlayedNote(1.0, 2.0, 9, 36, 100)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_recording_is_a_complete_file_after_every_flush_even_if_never_closed(tmp_path):
    clock, path = Clock(), tmp_path / "take.mid"
    rec = Recorder(path, LAYOUT, clock=clock, background=False)
    assert mido.MidiFile(path).tracks[2].name == "Piano"  # a valid, empty take exists from the start

    rec(mido.Message("control_change", channel=0, control=123))  # the start-up All Notes Off, before bar 1
    clock.now = 100.4
    rec(mido.Message("program_change", channel=0, program=5))  # bar 1 starts here
    rec(on(0, 60))
    clock.now = 100.9
    rec(off(0, 60))
    rec.flush()
    # A process killed now leaves this file: complete, with bar 1 at tick 0.
    assert channel_events(mido.MidiFile(path).tracks[2]) == [
        (0, mido.Message("control_change", channel=0, control=123)), (0, mido.Message("program_change", channel=0, program=5)),
        (0, on(0, 60)), (480, off(0, 60).copy(velocity=64))]

    clock.now = 101.9
    rec(on(1, 40))
    rec.close()  # Ctrl-C: the rest is written
    mf = mido.MidiFile(path)
    assert channel_events(mf.tracks[3]) == [(1440, on(1, 40))]
    assert mf.length == pytest.approx(1.5)


@pytest.mark.parametrize("due, origin", [(100.0, 100.0), (None, 100.013), (98.5, 100.013), (100.5, 100.013)])
def test_a_late_first_note_does_not_shift_the_take_when_the_transport_says_when_bar_1_was_due(tmp_path, due, origin):
    clock = Clock()
    rec = Recorder(tmp_path / "take.mid", LAYOUT, clock=clock, background=False, origin_from=lambda: due)
    clock.now = 100.013  # bar 1 was due at 100.0; its first note went out 13 ms late
    rec(on(0, 60))
    clock.now = 100.5  # on time
    rec(off(0, 60))
    rec.close()
    assert rec.origin == origin  # the transport's answer is used only when it explains the first message
    if due == 100.0:
        assert channel_events(mido.MidiFile(tmp_path / "take.mid").tracks[2]) == [(12, on(0, 60)), (480, off(0, 60).copy(velocity=64))]


def test_the_recorder_thread_flushes_on_its_own(tmp_path):
    path = tmp_path / "take.mid"
    rec = Recorder(path, LAYOUT, flush_seconds=0.02)
    try:
        rec(on(0, 60))
        deadline = time.monotonic() + 3
        while not channel_events(mido.MidiFile(path).tracks[2]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert channel_events(mido.MidiFile(path).tracks[2]) == [(0, on(0, 60))]
    finally:
        rec.close()


def test_an_unwritable_recording_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match=r"cannot write the recording '.*nowhere/take.mid'.*--record"):
        Recorder(tmp_path / "nowhere" / "take.mid", LAYOUT, background=False)


class Broken:
    closed = False

    def __call__(self, msg):
        raise RuntimeError("synth gone")

    def close(self):
        self.closed = True


def test_the_tap_port_forwards_first_then_feeds_taps_and_drops_a_failing_one(tmp_path, caplog):
    port, heard, broken = MemoryOutput(), [], Broken()

    class Ear:
        def __call__(self, msg):
            heard.append(msg)

        def close(self):
            heard.append("closed")

    tap = TapOutput(port, [broken, Ear()])
    assert tap.name == "memory"
    tap.send(on(0, 60))
    tap.send(off(0, 60))
    tap.close()
    assert [m for _, m in port.sent] == [on(0, 60), off(0, 60)] and port.closed
    assert heard == [on(0, 60), off(0, 60), "closed"]
    assert broken.closed and sum("synth gone" in r.message for r in caplog.records) == 1


def test_tap_output_closes_the_port_when_a_tap_cannot_start(tmp_path):
    port = MemoryOutput()
    with pytest.raises(UserError):
        tap_output(port, tiny_info(), 120.0, record=tmp_path / "no" / "dir" / "take.mid")
    assert port.closed
    assert tap_output(MemoryOutput(), tiny_info(), 120.0).name == "memory"  # nothing asked for: the port itself
