"""Play with LiveGAN over a real JACK server: a scripted player holds chords on LiveGAN's input, the daemon
(the shipped model, in its own process) follows them, a JACK client records what it plays; Ctrl-C ends every note."""

from __future__ import annotations

import signal
import time

import mido
import numpy as np
from daemonkit import IN, OUT, note_pairs, sent_events

from livegan.music.chords import parse_chord

BPM = 120
BAR = 2.0
CHORDS = (("C", (48, 52, 55)), ("F", (41, 45, 48)), ("G", (43, 47, 50)))  # a left hand, below the voices
HOLD_BARS = 3


def bar_one(dump) -> float:
    """When LiveGAN's bar 1 began, in this process's ``perf_counter`` seconds: the time of its MIDI Start
    (``--send-clock``) in the dump's clock, plus the dump clock's offset, read off the clock ticks that follow
    as they arrive (the least lag of ten). Also sets ``dump.offset``."""
    deadline = time.perf_counter() + 30
    while not (starts := [e for e in dump.events() if e.data[0] == 0xFA]) and time.perf_counter() < deadline:
        time.sleep(0.01)  # before it, the daemon clears its channels (sustain off, all notes off)
    assert starts, f"LiveGAN sends a MIDI Start at bar 1; it sent {dump.events()[:8]}"
    start = starts[0]
    assert not any(e.data[0] & 0xF0 == 0x90 and e.data[2] and e.time < start.time for e in dump.events()), \
        "no note before bar 1"
    offsets = []
    for _ in range(10):
        count = len(dump.events())
        arrived = dump.wait_for(count + 1, timeout=2.0)
        offsets.append(time.perf_counter() - arrived[-1].time)
    dump.offset = min(offsets)
    return dump.offset + start.time


def test_the_daemon_follows_the_chords_a_player_holds_and_every_note_ends(jack_server, jack_output, midi_dump,
                                                                            daemon_factory, tmp_path):
    take = tmp_path / "take.mid"
    dump = midi_dump()  # listening before the daemon starts: its MIDI Start comes ~0.5 s after its port
    daemon = daemon_factory("--follow", "chords", "--bpm", str(BPM), "--seed", "2", "--send-clock", "--record", str(take),
                            "-q")
    jack_server.connect(OUT, dump.port, timeout=30)
    jack_server.wait_for_port(IN, timeout=30)
    keys = jack_output("keys", "player")
    jack_server.connect("player:keys", IN)
    daemon.wait_line("playing to", timeout=30)
    ready = bar_one(dump)
    time.sleep(max(0.0, ready - time.perf_counter()) + 0.75 * BAR)  # each change a beat (0.5 s) before a bar line
    held: tuple[int, ...] = ()
    changes = []
    for name, pitches in CHORDS:
        for p in held:
            keys.send(mido.Message("note_off", note=p))
        for p in pitches:
            keys.send(mido.Message("note_on", note=p, velocity=80))
        changes.append((time.perf_counter() - ready, name))
        held = pitches
        time.sleep(HOLD_BARS * BAR)
    assert daemon.stop(signal.SIGINT, timeout=30) == 0, daemon.log
    for p in held:
        keys.send(mido.Message("note_off", note=p))
    events = dump.stop()

    sent = sent_events(take)
    (sent_notes, sent_open), (heard_notes, heard_open) = note_pairs(sent), note_pairs(events)
    assert not sent_open and not heard_open, "every note-on has its note-off, after Ctrl-C too"
    ticks_per_bar = 4 * mido.MidiFile(take).ticks_per_beat
    onsets: dict[int, list[int]] = {}
    for e in sent:
        m = mido.Message.from_bytes(list(e.data))
        if m.type == "note_on" and m.velocity:
            onsets.setdefault(e.frame // ticks_per_bar, []).append(m.note)
    checked = 0
    for k, (at, name) in enumerate(changes):
        tones = parse_chord(name).pitch_classes
        first = int(at // BAR) + 1  # from the next bar line on (0-based bars of the take): the change counts for it
        last = int(changes[k + 1][0] // BAR) if k + 1 < len(changes) else first + 1
        for bar in range(first, last):
            notes = onsets.get(bar, [])
            assert notes, f"bar {bar + 1} is silent"
            share = np.mean([n % 12 in tones for n in notes])
            assert share >= 0.9, f"bar {bar + 1} under {name}: {share:.0%} chord tones ({sorted(notes)}); changes {changes}"
            checked += 1
    assert checked >= 3


def test_an_echo_and_an_answer_follow_a_played_phrase_and_every_note_ends(jack_server, jack_output, midi_dump,
                                                                         daemon_factory, tmp_path):
    for mode in (["--follow", "melody"], ["--respond"]):
        take = tmp_path / f"{mode[-1]}.mid"
        dump = midi_dump()  # listening before the daemon starts: its MIDI Start comes ~0.5 s after its port
        daemon = daemon_factory(*mode, "--bpm", str(BPM), "--seed", "4", "--send-clock", "--record", str(take), "-q")
        jack_server.connect(OUT, dump.port, timeout=30)
        jack_server.wait_for_port(IN, timeout=30)
        keys = jack_output(f"keys-{mode[-1]}", f"player-{mode[-1]}")
        jack_server.connect(f"player-{mode[-1]}:keys-{mode[-1]}", IN)
        daemon.wait_line("playing to", timeout=30)
        ready = bar_one(dump)
        time.sleep(BAR - (time.perf_counter() - ready) % BAR)  # from a bar line
        played_at = time.perf_counter() - ready
        for pitch in (72, 74, 76, 77):  # a bar of quarter notes
            keys.send(mido.Message("note_on", note=pitch, velocity=80))
            time.sleep(0.45)
            keys.send(mido.Message("note_off", note=pitch))
            time.sleep(0.05)
        # a bar of silence, then the echo or the answer: from the first note LiveGAN plays two bars after the
        # phrase began, a bar and a half more (a loaded machine may put it a bar or two later than an idle one)
        from_bar = ready + (played_at // BAR + 2) * BAR + 0.1
        deadline = time.perf_counter() + 10 * BAR
        while time.perf_counter() < deadline and not any(
                e.data[0] & 0xF0 == 0x90 and e.data[2] and dump.offset + e.time >= from_bar for e in dump.events()):
            time.sleep(0.1)
        time.sleep(1.5 * BAR)
        assert daemon.stop(signal.SIGINT, timeout=30) == 0, daemon.log
        events = dump.stop()
        sent = sent_events(take)
        (_, sent_open), (_, heard_open) = note_pairs(sent), note_pairs(events)
        assert not sent_open and not heard_open, f"{mode}: every note-on has its note-off, after Ctrl-C too"
        ticks_per_bar = 4 * mido.MidiFile(take).ticks_per_beat
        after = [mido.Message.from_bytes(list(e.data)) for e in sent if e.frame >= (played_at // BAR + 2) * ticks_per_bar]
        answer = [m for m in after if m.type == "note_on" and m.velocity]
        assert len(answer) >= 4, f"{mode}: the phrase was echoed or answered"
        if mode[-1] == "melody":
            soprano = [(e.frame / ticks_per_bar, m.note) for e in sent
                       if (m := mido.Message.from_bytes(list(e.data))).type == "note_on" and m.velocity and m.channel == 0]
            assert [m.note for m in answer if m.channel == 0][:4] == [72, 74, 76, 77], \
                f"the echo's soprano is the melody (played in bar {played_at / BAR + 1:.2f}; soprano {soprano})"
        daemon.kill()
