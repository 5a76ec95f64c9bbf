"""Mood-switch latency: from a program change sent to ``livegan run`` to the first note in the new mood.

By design a mood change is heard from the next bar line (bars generated ahead are
regenerated in the new mood), so latency is reported against the time left in the bar
when the change was sent. Two presets tell their notes apart: "bright" plays at velocity
100 +/- 10, "dark" at 50 +/- 10 and switches the first melodic track's instrument, whose
program change marks the bar where the new mood starts. Changes are sent at random
points of a bar (seeded), alternating between the presets.

The daemon runs on a private ``jackd -d dummy``; the control sender and the listener
are JACK clients in this process, so sends and arrivals share ``time.perf_counter()``.

    python benchmarks/mood_switch.py             # the shipped model, 12 switches at 120 BPM
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import mido
import numpy as np
from common import check_model, parser, spread_ms, table, write_result
from jack_daemon import IN_PORT, OUT_PORT, Listener, start, stop

LOUD = 78  # velocities above: "bright"; below: "dark"


def moods_file(path: Path, model: Path) -> tuple[Path, int, int, int]:
    """Write the two presets; (path, channel, bright program, dark program) of the marker track."""
    from livegan.model.engine import load_model

    info = load_model(model).info
    index = next(i for i, t in enumerate(info.tracks) if not t.is_drum)
    track, channel = info.tracks[index], info.channels[index]
    dark = 48 if track.program != 48 else 49
    path.write_text(f"""[[mood]]
name = "bright"
valence = 0.8
arousal = 0.6
velocity = 100
dynamics = 10

[[mood]]
name = "dark"
valence = -0.6
arousal = -0.5
velocity = 50
dynamics = 10
programs = {{ "{track.name}" = {dark} }}
""")
    return path, channel, track.program, dark


def take(model: Path, moods: Path, marker: tuple[int, int, int], bpm: float, switches: int, seed: int) -> list[dict[str, Any]]:
    """Run the daemon and switch moods ``switches`` times; one record per switch (seconds)."""
    from jackkit import JackServer

    from livegan.model.engine import load_model

    bar_s = 60 / bpm * load_model(model).info.beats_per_bar
    rng = np.random.default_rng(seed)
    with JackServer() as jack:
        listener = Listener(jack)
        proc = start(jack, model, "--moods", str(moods), "--bpm", str(bpm), "--seed", str(seed))
        try:
            listener.wait_for_port(OUT_PORT, 60, proc)
            listener.listen(OUT_PORT)
            listener.wait_for_port(IN_PORT, 10, proc, output=False)
            listener.control(IN_PORT)
            origin, _ = listener.first("program_change", timeout=30)  # bar 1's deadline (+ delivery)
            raw = [switch(listener, origin, bar_s, i % 2 == 0, marker, rng.uniform(0.05, 0.95)) for i in range(switches)]
        finally:
            stop(proc)
            listener.close()
    return measure(raw, origin, bar_s)


def switch(listener: Listener, origin: float, bar_s: float, to_dark: bool, marker: tuple[int, int, int],
           phase: float) -> dict[str, Any]:
    """Send one program change at ``phase`` of the bar after next; wait for the new mood's marker and note."""
    channel, bright, dark = marker
    target = origin + (math.floor((time.perf_counter() - origin) / bar_s) + 2 + phase) * bar_s
    time.sleep(max(0.0, target - time.perf_counter()))
    sent = listener.send(mido.Message("program_change", channel=15, program=1 if to_dark else 0))
    program = dark if to_dark else bright
    bar, _ = listener.first("program_change", sent, 4 * bar_s, lambda m: m.channel == channel and m.program == program)
    note, _ = listener.first("note_on", sent, 4 * bar_s, lambda m: (m.velocity < LOUD) == to_dark)
    return {"to": "dark" if to_dark else "bright", "sent": sent, "bar": bar, "note": note}


def measure(raw: list[dict[str, Any]], origin: float, bar_s: float) -> list[dict[str, Any]]:
    """Place each send in its bar. The grid's origin is the median over every bar-start marker that
    arrived (bar 1's and each new mood's), so one late delivery does not shift the grid."""
    marks = np.array([origin] + [r["bar"] for r in raw])
    origin = origin + float(np.median((marks - origin) - np.round((marks - origin) / bar_s) * bar_s))
    out = []
    for r in raw:
        line = origin + math.ceil((r["sent"] - origin) / bar_s) * bar_s  # the next bar line after the send
        out.append({"to": r["to"], "left_in_bar_s": line - r["sent"], "to_new_bar_s": r["bar"] - r["sent"],
                    "to_first_note_s": r["note"] - r["sent"], "bars_after_next_line": round((r["bar"] - line) / bar_s),
                    "bar_s": bar_s})
    return out


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    bar_s = records[0]["bar_s"]
    late = [r["to_new_bar_s"] - r["left_in_bar_s"] - r["bars_after_next_line"] * bar_s for r in records]
    return {"switches": len(records), "bar_s": bar_s,
            "at_next_bar_line": sum(r["bars_after_next_line"] == 0 for r in records),
            "one_bar_later": sum(r["bars_after_next_line"] == 1 for r in records),
            "to_new_bar": spread_ms([r["to_new_bar_s"] for r in records]),
            "to_first_note": spread_ms([r["to_first_note_s"] for r in records]),
            "to_first_note_bars": float(np.median([r["to_first_note_s"] for r in records]) / bar_s),
            "bar_start_vs_grid": spread_ms(late)}


def main() -> None:
    p = parser("mood_switch", "Latency from a program change to the first note in the new mood (real JACK).")
    p.add_argument("--switches", type=int, default=12, help="mood changes sent (default: %(default)s)")
    p.add_argument("--bpm", type=float, default=120.0)
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args()
    model = check_model(args.model)
    switches, bpm = (2, 240.0) if args.quick else (args.switches, args.bpm)
    with tempfile.TemporaryDirectory() as tmp:
        path, *marker = moods_file(Path(tmp) / "moods.toml", model)
        records = take(model, path, tuple(marker), bpm, switches, args.seed)
    results = {"model": str(model), "bpm": bpm, "switches": records, "summary": summarize(records)}
    print_table(results)
    write_result(args.out, "mood_switch", args, results)


def print_table(results: dict[str, Any]) -> None:
    s = results["summary"]
    rows = [["time left in the bar when sent", *_row(spread_ms([r["left_in_bar_s"] for r in results["switches"]]))],
            ["send -> new mood's bar starts", *_row(s["to_new_bar"])],
            ["send -> first note in the new mood", *_row(s["to_first_note"])],
            ["new mood's bar start vs its bar line", *_row(s["bar_start_vs_grid"])]]
    print(table(f"mood switch, ms ({s['switches']} switches, bar = {s['bar_s'] * 1e3:.0f} ms, {Path(results['model']).name})",
                ["", "median", "p99", "max"], rows))
    print(f"new mood from the next bar line: {s['at_next_bar_line']} of {s['switches']}; one bar later: {s['one_bar_later']}; "
          f"median latency to the first new note: {s['to_first_note_bars']:.2f} bars")


def _row(spread: dict[str, float]) -> list[float]:
    return [spread["median_ms"], spread["p99_ms"], spread["max_ms"]]


if __name__ == "__main__":
    main()
