"""Play with LiveGAN in a session on a fake clock: the shipped model follows held chords, echoes a melody,
answers a call; panic, freeze, new idea; every note ends."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import load_model
from livegan.model.locate import default_model_path
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.music.chords import parse_chord, parse_progression
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import FakeClock

MOODS = [Mood("calm", 0.5, -0.3, legato=1.0)]
BAR = 2.0  # seconds at 120 BPM


@pytest.fixture(scope="module")
def model():
    generator = load_model(default_model_path())
    assert generator.info.runtime == "infill", "the shipped default plays along"
    return generator


def on(pitch: int) -> mido.Message:
    return mido.Message("note_on", note=pitch, velocity=90)


def off(pitch: int) -> mido.Message:
    return mido.Message("note_off", note=pitch)


def cc(control: int, value: int) -> mido.Message:
    return mido.Message("control_change", control=control, value=value)


def play(model, bars: int, script: dict[int, list[tuple[float, mido.Message]]], **options):
    """A session of ``bars`` bars; ``script`` maps a bar number (1-based) to (seconds into it, message) played then."""
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    box: list[LiveSession] = []
    pending: list[tuple[float, mido.Message]] = []
    delivered: list[tuple[float, mido.Message]] = []  # (when, message) played to the session

    def on_bar(started) -> None:
        start = clock.now()
        pending.extend((start + dt, msg) for dt, msg in script.get(started.number, []))
        deliver(start)

    def deliver(now: float) -> None:
        due = sorted((p for p in pending if p[0] <= now + 1e-9), key=lambda p: p[0])
        for item in due:
            pending.remove(item)
            delivered.append(item)
            box[0].on_message(item[1], item[0])

    sleep = clock.sleep_until

    def sleep_and_deliver(deadline: float) -> bool:  # messages arrive while the clock thread waits
        for at in sorted(p[0] for p in pending):
            if at <= deadline:
                clock.time = max(clock.time, at)
                deliver(at)
        return sleep(deadline)

    clock.sleep_until = sleep_and_deliver
    session = LiveSession(model, MOODS, ControlMap(), port, clock,
                          SessionOptions(seed=5, background=False, bar_seconds=0.3, **options), on_bar=on_bar)
    box.append(session)
    session.run(bars)
    session.delivered = delivered
    return session, port.sent


def onsets_by_bar(session, sent) -> dict[int, list[mido.Message]]:
    starts = list(session.sequencer.bar_starts)
    bars: dict[int, list[mido.Message]] = {}
    for t, m in sent:
        if m.type == "note_on" and m.velocity:
            bars.setdefault(int(np.searchsorted(starts, t + 1e-9)) , []).append(m)  # 1-based bar number
    return bars


def all_notes_end(sent) -> bool:
    sounding = set()
    for _, m in sent:
        if m.type == "note_on" and m.velocity:
            sounding.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            sounding.discard((m.channel, m.note))
    return not sounding


def test_held_chords_are_the_harmony_of_the_bars_after_each_change(model):
    progression = {2: "C", 4: "F", 6: "G", 8: "Am"}  # held from the start of bars 2, 4, 6, 8 (1-based)
    keys = {"C": (48, 52, 55), "F": (41, 45, 48), "G": (43, 47, 50), "Am": (45, 48, 52)}  # a left hand
    script, held = {}, ()
    for bar, name in progression.items():
        script[bar] = [(0.0, off(p)) for p in held] + [(0.01, on(p)) for p in keys[name]]
        held = keys[name]
    session, sent = play(model, 10, script, follow="chords")
    bars = onsets_by_bar(session, sent)
    for bar, name in progression.items():
        tones = parse_chord(name).pitch_classes
        for after in (bar + 1, bar + 2):  # the bar after the change, and the next
            share = np.mean([m.note % 12 in tones for m in bars[after]])
            assert share >= 0.9, f"bar {after} under {name}: {share:.0%} chord tones"
        assert not any(m.note in keys[name] for m in bars[bar + 1]), "a held key is never doubled"
    assert all_notes_end(sent)


def test_a_played_melody_is_echoed_as_the_soprano_with_the_other_voices_below(model):
    melody = [(0.0, 72), (0.5, 74), (1.0, 76), (1.5, 77)]  # quarters in bar 2: C5 D5 E5 F5
    script = {2: [(t, on(p)) for t, p in melody] + [(t + 0.49, off(p)) for t, p in melody]}
    session, sent = play(model, 7, script, follow="melody")
    answer = session.play.answer
    assert answer is not None and answer.end - answer.first == 1
    echo = onsets_by_bar(session, sent)[answer.first + 1]  # composer index -> 1-based bar
    soprano = [m.note for m in echo if m.channel == 0]
    assert soprano == [72, 74, 76, 77], "the echo's soprano is the melody"
    below = [m.note for m in echo if m.channel != 0]
    assert below and max(below) < 77 and np.mean([n < 72 for n in below]) >= 0.9, "the other voices sit below it"
    assert not onsets_by_bar(session, sent).get(3), "the voices rest while the phrase is played and before its echo"
    assert all_notes_end(sent)


def test_a_call_is_answered_with_as_many_bars_then_the_voices_listen_again(model):
    call = [(i * 0.5, p) for i, p in enumerate((67, 69, 71, 72, 74, 72, 71, 69))]  # bars 2-3
    script = {2: [(t, on(p)) for t, p in call[:4]] + [(t + 0.45, off(p)) for t, p in call[:4]],
              3: [(t - 2.0, on(p)) for t, p in call[4:]] + [(t - 2.0 + 0.45, off(p)) for t, p in call[4:]]}
    session, sent = play(model, 10, script, follow="respond")
    answer = session.play.answer
    assert answer is not None and answer.end - answer.first == 2
    bars = onsets_by_bar(session, sent)
    answered = [b for b in bars if bars[b]]
    assert answered == [answer.first + 1, answer.first + 2], "only the answer sounds: listening before and after"
    assert all_notes_end(sent)


def test_a_panic_releases_every_note_at_once(model):
    session, sent = play(model, 3, {2: [(1.01, cc(123, 0))]})
    (panic_at, _), = session.delivered
    sounding = set()
    for t, m in sent:
        if t >= panic_at - 1e-9:
            break
        if m.type == "note_on" and m.velocity:
            sounding.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            sounding.discard((m.channel, m.note))
    release = min(t for t, m in sent if t >= panic_at - 1e-9 and m.type == "control_change" and m.control == 123)
    assert release <= panic_at + 1e-6, "released at once"
    released = {(m.channel, m.note) for t, m in sent if t == release and m.type == "note_off"}
    assert sounding and sounding <= released, "every note sounding at the panic was released"
    assert all_notes_end(sent)


def test_freeze_repeats_the_last_phrase_note_for_note_and_a_new_idea_moves_on(model):
    session, sent = play(model, 14, {6: [(0.5, cc(80, 127))], 11: [(0.5, cc(80, 0))], 12: [(0.5, cc(81, 127))]})
    bars = onsets_by_bar(session, sent)
    starts = list(session.sequencer.bar_starts)

    def notes(bar):
        return sorted((round(t - starts[bar - 1], 4), m.channel, m.note) for t, m in sent
                      if m.type == "note_on" and m.velocity and starts[bar - 1] - 1e-9 <= t < starts[bar - 1] + BAR - 1e-9)

    assert [notes(b) for b in (7, 8, 9, 10)] == [notes(b) for b in (3, 4, 5, 6)], "the phrase before the freeze, exactly"
    assert notes(11) == notes(7), "frozen until the bar after the release"
    assert bars.get(12) and bars.get(13) and all_notes_end(sent)


def test_the_shipped_model_follows_a_chord_chart_bar_by_bar(tmp_path):
    from livegan.cli import main

    out = tmp_path / "chords.mid"
    main(["render", "--follow", "chords", "--chords", "C G Am F", "--bars", "8",
          "--seed", "4", "-o", str(out)])
    midi = mido.MidiFile(out)
    per_bar: dict[int, list[int]] = {}
    for track in midi.tracks:
        tick = 0
        for m in track:
            tick += m.time
            if m.type == "note_on" and m.velocity:
                per_bar.setdefault(tick // (4 * midi.ticks_per_beat), []).append(m.note % 12)
    chords = parse_progression("C G Am F")
    shares = [np.isin(per_bar[b], chords[b % 4].pitch_classes).mean() for b in range(8)]
    assert min(shares) >= 0.9, shares
