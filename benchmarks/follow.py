"""Play with LiveGAN: how soon and how well ``livegan run --follow chords`` / ``--follow melody`` / ``--respond`` follow a player.

Part 1 (chord change to sound, real JACK): ``livegan run --api jack --follow chords --record TAKE`` in its own process
on a private ``jackd -d dummy`` (real-time where ``chrt -f 10 true`` works). A scripted player in this process (an
rtmidi JACK output, channel 16) holds left-hand chords below the voices and changes them ``--changes`` times, one
every two bars at a random phase of the bar (seeded; consecutive chords share one tone at most). A JACK client
(``tests/jack_record.py``) records the player's keys and LiveGAN's notes on one frame clock. The bar of each note
comes from the daemon's own take; the take's ticks and the frames of the same notes give where bar 1 began. For each
change: the first bar line after the key-down from which a bar's note-ons are >= 90 % tones of the chord held
("followed"), the latency from the key-down to that bar's first note-on (ms and beats), how long before the next bar
line the keys went down ("lead") and whether that line was the one; then the chord-tone share of every bar while the
chord is held. When the keys go down, the bar being made for the old chord is abandoned
(``Composer``: the player's steer changed) and the next bar is remade in the time left before its line
(``InfillRuntime.plan``: the model's full window and passes when they fit, else a 2-bar window with the most passes
that fit, down to 4; ``benchmarks/hurry.py`` measures what each costs); the chord needs 40 ms to settle and a composer
poll (20 ms) before that, and the worker up to a pass (~30 ms) to notice. ``make_bar_ms`` is the daemon's "the model makes a
bar in N ms here" (full window and passes). The ``by_lead`` rows give the share taken at the next line per beat of lead.

Part 2 (what each mode costs, real JACK, ``--bars`` of play): no follow (nothing played), ``--follow chords`` (a
chord every two bars), ``--follow melody`` (a one-bar tune, then silence: echoed), ``--respond`` (a one-bar call,
then silence: answered). The daemon's own exit line (event lateness = send time - deadline, every event of the run)
and its CPU with its generation worker (``/proc`` utime + stime, % of one core, from bar 1 to the end); the xruns
jackd logged over the whole run, start-up included, and the clients it blamed them on (``(driver)``: its own thread).

Part 3 (what each mode plays, offline through the daemon's path: ``render_piece`` as ``livegan render`` calls it):
free; chords "C G Am F Dm G C Em" (one a bar, as ``--chords``); a 4-bar tune as the soprano (written to a MIDI file,
read as ``--clip`` is, repeated to fill the bars); ``--render-bars`` bars x ``--seeds`` seeds at the first mood. The
part-writing figures of ``livegan.evaluation.voicing`` (shares of notes, moves or steps) and, for chords, the share
of note-ons that are tones of their bar's chord (pooled, and the lowest bar).

    python benchmarks/follow.py          # the shipped model: 12 changes, 8 bars a mode at 120 BPM, 16 bars x 3 seeds
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the checkout and tests/ on sys.path)
import mido
import numpy as np
from common import (
    check_model,
    parser,
    proc_cpu_seconds,
    spread_ms,
    table,
    write_result,
)
from jack_daemon import IN_PORT, OUT_PORT, start, stop
from startup import children
from timing import LATENESS_LINE, realtime_permitted

PLAYER, CHANNEL = "bench-player", 15  # the scripted keyboard's client, and its channel (16): not one of LiveGAN's
CHORDS = (("C", (48, 52, 55)), ("F", (41, 45, 48)), ("G", (43, 47, 50)), ("Am", (45, 48, 52)), ("Dm", (38, 41, 45)),
          ("G", (43, 47, 50)))  # a left hand; each shares one tone at most with the next
CALL = (72, 74, 76, 77)  # a one-bar phrase of quarter notes (--follow melody, --respond)
FOLLOWED = 0.9  # a bar follows a chord when this share of its note-ons are the chord's tones
PROGRESSION = "C G Am F Dm G C Em"
TUNE = ((76, 1), (74, 1), (72, 1), (74, 1), (76, 1), (76, 1), (76, 2), (74, 1), (74, 1), (74, 2), (76, 1), (79, 1), (79, 2))
MAKE_LINE = re.compile(r"makes a bar in (\d+) ms")
Script = list[tuple[float, int, bool]]  # (bars from bar 1, pitch, key down?)


def live_take(model: Path, args: list[str], script: Script, bars: float, bar_s: float) -> tuple[dict[str, Any], list, int]:
    """Run the daemon with ``args``, play ``script`` from bar 1 on for ``bars`` bars, record; (figures, events, rate)."""
    from jackkit import JackServer, MidiDump

    realtime = realtime_permitted()
    with JackServer(realtime=realtime) as jack:
        os.environ.update(JACK_DEFAULT_SERVER=jack.name, JACK_NO_START_SERVER="1")  # for this process's player
        dump = MidiDump(jack)  # listening before the daemon starts: its first bar comes ~0.5 s after its port
        proc, keys, stderr = start(jack, model, *args), None, ""
        try:
            jack.connect(OUT_PORT, dump.port, timeout=90)
            jack.wait_for_port(IN_PORT, timeout=30)
            keys = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("keys", virtual=True, client_name=PLAYER)
            for dst in (IN_PORT, dump.port):
                jack.connect(f"{PLAYER}:keys", dst)
            origin = wait_bar1(dump, proc)  # when bar 1 began, within the recorder's delivery (tens of ms)
            kids = children(proc.pid)
            cpu0 = [proc_cpu_seconds(proc.pid), sum(map(proc_cpu_seconds, kids))]
            for at, pitch, down in sorted(script, key=lambda s: (s[0], s[2])):  # a chord's keys up before the next's go down
                time.sleep(max(0.0, origin + at * bar_s - time.perf_counter()))
                keys.send(mido.Message("note_on" if down else "note_off", channel=CHANNEL, note=pitch, velocity=80))
            time.sleep(max(0.0, origin + bars * bar_s - time.perf_counter()))
            window = time.perf_counter() - origin
            cpu = [100 * (now - before) / window for now, before in
                   zip((proc_cpu_seconds(proc.pid), sum(map(proc_cpu_seconds, kids))), cpu0)]
            code, stderr = stop(proc)  # SIGINT: the daemon releases every note and logs its lateness
            time.sleep(0.3)
            events = dump.stop()
        finally:
            if keys is not None:
                for pitch in {p for _, p, down in script if down}:
                    keys.send(mido.Message("note_off", channel=CHANNEL, note=pitch))
                keys.close()
            dump.stop()
            if not stderr:  # an error before the daemon was stopped: stop it, and show its log
                sys.stderr.write(stop(proc)[1])
        rate, xruns, blamed = jack.sample_rate, jack.xruns(), {k: v for k, v in jack.blamed().items() if v}
    late, make = LATENESS_LINE.search(stderr), MAKE_LINE.search(stderr)
    heard = [e for e in events if e.data[0] & 0x0F != CHANNEL and e.data[0] & 0xF0 == 0x90 and e.data[2]]
    return {"exit_code": code, "cpu_percent": sum(cpu), "daemon_cpu_percent": cpu[0], "worker_cpu_percent": cpu[1],
            "workers": len(kids), "cpu_window_s": window, "note_ons": len(heard), "xruns": xruns, "xruns_blamed": blamed,
            "make_bar_ms": float(make.group(1)) if make else None, "realtime_server": realtime,
            "daemon_lateness_ms": dict(zip(("median_ms", "p99_ms", "max_ms"), map(float, late.groups()))) if late else None,
            }, events, rate


def wait_bar1(dump: Any, proc: subprocess.Popen, timeout: float = 90.0) -> float:
    """The time (``time.perf_counter``) the daemon's first program change or note reached the recorder: bar 1."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and proc.poll() is None:
        if any(e.data[0] & 0x0F != CHANNEL and (e.data[0] & 0xF0 == 0xC0 or (e.data[0] & 0xF0 == 0x90 and e.data[2]))
               for e in dump.events()):
            return time.perf_counter() - 0.025  # the recorder prints every 50 ms at most
        time.sleep(0.005)
    raise RuntimeError(f"livegan run played nothing within {timeout:g} s (exit code {proc.poll()}; its log follows)")


def chord_script(times: list[float]) -> tuple[Script, list[tuple[str, tuple[int, ...]]]]:
    """Chord k of :data:`CHORDS` struck at ``times[k]`` (bars from bar 1), the one before released at that moment."""
    played = [CHORDS[k % len(CHORDS)] for k in range(len(times))]
    script: Script = []
    for k, (at, (_, pitches)) in enumerate(zip(times, played)):
        script += [(at, p, False) for p in (played[k - 1][1] if k else ())] + [(at, p, True) for p in pitches]
    return script, played


def phrase_script(at: float, beat: float) -> Script:
    """The one-bar call, quarter notes held 90 % of a beat, from ``at`` bars."""
    return [x for i, p in enumerate(CALL) for x in ((at + i * beat, p, True), (at + (i + 0.9) * beat, p, False))]


def chord_follow(model: Path, args: list[str], changes: int, bpm: float, seed: int, info: Any) -> dict[str, Any]:
    """Part 1: one ``--follow chords`` take; a record per change and their summary."""
    from daemonkit import sent_events

    bar_s, beat_s, channels = 60.0 / bpm * info.beats_per_bar, 60.0 / bpm, set(info.channels)
    rng = np.random.default_rng(seed)
    script, played = chord_script([2 * k + 1 + rng.uniform(0.02, 0.98) for k in range(changes)])  # a phase of bar 2k + 1
    with tempfile.TemporaryDirectory() as tmp:
        take = Path(tmp) / "take.mid"
        run, events, rate = live_take(model, [*args, "--follow", "chords", "--record", str(take)], script, 2 * changes + 2.5,
                                      bar_s)
        tpb = mido.MidiFile(take).ticks_per_beat
        sent = [(e.frame, mido.Message.from_bytes(list(e.data))) for e in sent_events(take)]
    heard = [mido.Message.from_bytes(list(e.data), time=e.frame) for e in events]
    on = lambda m: m.type == "note_on" and m.velocity > 0
    pairs = []  # (tick, pitch, frame): the k-th note-on of each channel in the take is the k-th one recorded
    for ch in channels:
        ticks = [(t, m.note) for t, m in sent if on(m) and m.channel == ch]
        pairs += [(t, p, m.time) for (t, p), m in zip(ticks, [m for m in heard if on(m) and m.channel == ch])]
    offsets = np.array([f - t / tpb * beat_s * rate for t, _, f in pairs])
    origin = float(np.median(offsets))  # the frame at which bar 1 began
    bars: dict[int, list[tuple[int, int]]] = {}
    for t, p, f in pairs:
        bars.setdefault(t // (tpb * info.beats_per_bar), []).append((p, f))
    keys = [m.time for m in heard if on(m) and m.channel == CHANNEL]
    firsts = np.cumsum([0, *(len(pitches) for _, pitches in played)])[:-1]  # each change's first key-down
    downs = [keys[i] for i in firsts if i < len(keys)]
    bar_f, records = bar_s * rate, []
    for k, ((name, pitches), down) in enumerate(zip(played, downs)):
        tones = {p % 12 for p in pitches}
        line = math.ceil((down - origin) / bar_f)
        last = math.floor((downs[k + 1] - origin) / bar_f) if k + 1 < len(downs) else max(bars, default=line)
        share = {b: float(np.mean([p % 12 in tones for p, _ in bars[b]])) for b in range(line, last + 1) if bars.get(b)}
        hit = next((b for b in sorted(share) if share[b] >= FOLLOWED), None)
        record = {"chord": name, "lead_s": (origin + line * bar_f - down) / rate, "bars_late": None if hit is None else hit - line,
                  "held_shares": [share[b] for b in sorted(share) if hit is not None and b >= hit]}
        if hit is not None:
            latency = (min(f for _, f in bars[hit]) - down) / rate
            record.update(latency_s=latency, latency_beats=latency / beat_s, lead_to_followed_s=(origin + hit * bar_f - down) / rate)
        records.append(record)
    return {**run, "bpm": bpm, "changes": records, "recorded_vs_take": spread_ms(np.abs(offsets - origin) / rate), "summary": summarize(records, beat_s, info.beats_per_bar)}


def summarize(records: list[dict[str, Any]], beat_s: float, beats: int) -> dict[str, Any]:
    followed = [r for r in records if r["bars_late"] is not None]
    shares = [s for r in followed for s in r["held_shares"]]
    by_lead = []
    for b in range(beats):
        here = [r for r in records if b <= r["lead_s"] / beat_s < b + 1]
        next_line = sum(r["bars_late"] == 0 for r in here)
        by_lead.append({"lead_beats": [b, b + 1], "changes": len(here), "at_next_line": next_line,
                        "share": next_line / len(here) if here else None})
    return {"changes": len(records), "followed": len(followed), "at_next_line": sum(r["bars_late"] == 0 for r in records),
            "one_bar_later": sum(r["bars_late"] == 1 for r in records), "by_lead": by_lead,
            "latency": spread_ms([r["latency_s"] for r in followed]),
            "latency_beats_median": float(np.median([r["latency_beats"] for r in followed])) if followed else None,
            "held_share_median": float(np.median(shares)) if shares else None, "held_share_min": min(shares, default=None),
            "held_bars": len(shares)}


def mode_costs(model: Path, args: list[str], bars: int, bpm: float, beats: int) -> dict[str, Any]:
    """Part 2: lateness and CPU of each mode while the player plays what it reacts to."""
    bar_s, beat = 60.0 / bpm * beats, 1.0 / beats
    chords, _ = chord_script([2 * k + 0.5 for k in range(max(1, bars // 2))])
    modes = {"none": ([], []), "chords": (["--follow", "chords"], chords),
             "melody": (["--follow", "melody"], phrase_script(1.0, beat)), "respond": (["--respond"], phrase_script(1.0, beat))}
    out = {}
    for name, (extra, script) in modes.items():
        out[name], _, _ = live_take(model, [*args, *extra], [s for s in script if s[0] < bars], bars, bar_s)
    return out


def part_writing(generator: Any, bars: int, seeds: int, bpm: float) -> dict[str, Any]:
    """Part 3: the part-writing figures of free, chord-following and melody-harmonizing renders."""
    from livegan.evaluation.evaluate import stream_notes
    from livegan.evaluation.voicing import Grid, piece_figures, summarise
    from livegan.generation.guide import default_candidates
    from livegan.mood.presets import load_moods
    from livegan.music.chords import parse_progression
    from livegan.music.clip import melody_of_clip
    from livegan.offline.render import Segment, render_piece

    info, mood, chords = generator.info, load_moods()[0], parse_progression(PROGRESSION)
    spb = info.steps_per_bar
    with tempfile.TemporaryDirectory() as tmp:  # the tune as a MIDI file, read as livegan render --clip reads one
        midi = mido.MidiFile(ticks_per_beat=480, tracks=[mido.MidiTrack(m for pitch, beats in TUNE for m in (
            mido.Message("note_on", note=pitch, velocity=80), mido.Message("note_off", note=pitch, time=480 * beats)))])
        midi.save(Path(tmp) / "tune.mid")
        tune = melody_of_clip(Path(tmp) / "tune.mid", info)
    span = -(-max(b for _, b, _ in tune) // spb) * spb
    melody = [(a + k * span, b + k * span, p) for k in range(-(-bars * spb // span)) for a, b, p in tune if a + k * span < bars * spb]
    grid = Grid(info.steps_per_beat, info.beats_per_bar, info.bars)
    out = {}
    for mode, steer in (("free", {}), ("chords", {"chords": chords}), ("melody", {"melody": melody})):
        counts, bar_shares, tones = [], [], []
        for seed in range(seeds):
            piece = render_piece(generator, [Segment(mood)], bars, seed, bpm=bpm, guide=default_candidates(info), **steer)
            notes = stream_notes(piece)
            counts.append(piece_figures(notes, len(info.tracks), bars, grid))
            for b in range(bars) if mode == "chords" else ():
                here = [n.pitch % 12 in chords[b % len(chords)].pitch_classes for n in notes if n.start // spb == b]
                tones += here
                bar_shares += [float(np.mean(here))] if here else []
        out[mode] = {"mood": mood.name, "bars": bars, "seeds": seeds, **summarise(counts),
                     "chord_tone_share": float(np.mean(tones)) if tones else None,
                     "chord_tone_share_min_bar": min(bar_shares, default=None)}
    return out


FIGURES = (("stepwise_mean", "stepwise motion"), ("any_out_of_order", "voices out of order"),
           ("eighth_or_longer_mean", "8ths or longer"), ("held_phrase_ends", "held phrase ends"),
           ("repeated_from_previous_bar", "repeated from the bar before"), ("parallel_perfect", "parallel 5ths/8ves"),
           ("notes_per_bar", "notes per bar"), ("chord_tone_share", "chord tones (pooled)"),
           ("chord_tone_share_min_bar", "chord tones (lowest bar)"))


def print_tables(r: dict[str, Any]) -> None:
    f = r["chord_follow"]
    s = f["summary"]
    print(table(f"--follow chords: key-down -> the bar that follows ({r['bpm']:g} BPM, the model makes a bar in "
                f"{f['make_bar_ms']} ms here, {'real-time' if f['realtime_server'] else 'NON-real-time'} jackd)",
                ["chord", "lead ms", "bars late", "latency ms", "beats", "held bars", "min share"],
                [[c["chord"], c["lead_s"] * 1e3, c["bars_late"], c.get("latency_s", math.nan) * 1e3, c.get("latency_beats"),
                  len(c["held_shares"]), min(c["held_shares"], default=None)] for c in f["changes"]]))
    print()
    print(table("taken at the next bar line, by lead (beats before the line)", ["lead beats", "changes", "at next line", "share"],
                [[f"{b['lead_beats'][0]}-{b['lead_beats'][1]}", b["changes"], b["at_next_line"], b["share"]] for b in s["by_lead"]]))
    print(f"followed {s['followed']} of {s['changes']} ({s['at_next_line']} at the next line, {s['one_bar_later']} a bar later); "
          f"latency median {s['latency']['median_ms']:.0f} ms ({s['latency_beats_median'] or math.nan:.2f} beats), "
          f"max {s['latency']['max_ms']:.0f} ms; chord tones while held: median {s['held_share_median'] or math.nan:.2f}, "
          f"min {s['held_share_min'] or math.nan:.2f} over {s['held_bars']} bars")
    rows = [[mode, *((m["daemon_lateness_ms"] or {}).get(k) for k in ("median_ms", "p99_ms", "max_ms")), m["cpu_percent"],
             m["daemon_cpu_percent"], m["worker_cpu_percent"], m["note_ons"], m["xruns"],
             ", ".join(f"{k} {v}" for k, v in m["xruns_blamed"].items()) or "-", m["exit_code"]]
            for mode, m in r["modes"].items()]
    print()
    print(table(f"each mode, {r['mode_bars']} bars: event lateness ms (the daemon's exit line), CPU % of one core",
                ["mode", "median", "p99", "max", "CPU %", "daemon", "worker", "note-ons", "xruns", "blamed on", "exit"], rows))
    w = r["part_writing"]
    print()
    print(table(f"part-writing, offline ({w['free']['bars']} bars x {w['free']['seeds']} seeds, mood {w['free']['mood']})",
                ["figure", *w], [[label, *(w[m][key] for m in w)] for key, label in FIGURES]))


def main() -> None:
    p = parser("follow", "Play with LiveGAN: chord change to sound (real JACK), lateness and CPU per mode, part-writing.")
    p.add_argument("--changes", type=int, default=12, help="chord changes in part 1 (default: %(default)s)")
    p.add_argument("--bars", type=int, default=8, help="bars played per mode in part 2 (default: %(default)s)")
    p.add_argument("--render-bars", type=int, default=16, help="bars per offline render in part 3 (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=3, help="offline renders per mode (default: %(default)s)")
    p.add_argument("--bpm", type=float, default=120.0)
    p.add_argument("--seed", type=int, default=1, help="the daemon's seed and the chord phases' (default: %(default)s)")
    p.add_argument("--iterations", type=int, default=None, help="Gibbs passes per bar (default: the model's; --quick: 4)")
    args = p.parse_args()
    model = check_model(args.model)
    from livegan.model.engine import load_model, set_iterations

    changes, bars, render_bars, seeds, bpm = (2, 2, 4, 1, 240.0) if args.quick else \
        (args.changes, args.bars, args.render_bars, args.seeds, args.bpm)
    iterations = args.iterations or (4 if args.quick else None)
    generator = load_model(model)
    if iterations:
        set_iterations(generator, iterations)
    generator.warm_up()
    daemon_args = ["--bpm", f"{bpm:g}", "--seed", str(args.seed), *(["--iterations", str(iterations)] if iterations else [])]
    results = {"model": str(model), "bpm": bpm, "iterations": generator.iterations, "mode_bars": bars,
               "chord_follow": chord_follow(model, daemon_args, changes, bpm, args.seed, generator.info),
               "modes": mode_costs(model, daemon_args, bars, bpm, generator.info.beats_per_bar),
               "part_writing": part_writing(generator, render_bars, seeds, bpm)}
    print_tables(results)
    write_result(args.out, "follow", args, results)


if __name__ == "__main__":
    main()
