"""A real-clock soak of the live session: drift of bar starts and memory growth over minutes.

Usage: python benchmarks/soak.py [--minutes 10] [--bpm 300] [--model FILE] [--json benchmarks/results/soak.json]

Plays the model (default: the shipped one) with the real monotonic clock into a
port that only timestamps what it is sent, and reports, per minute: how late each
bar's first event was sent against its absolute deadline t0 + k * bar (drift would
show as a growing number), event lateness, and the process's RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import mido
import numpy as np

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import load_model
from livegan.model.locate import default_model_path
from livegan.mood.controls import ControlMap
from livegan.mood.presets import load_moods
from livegan.timing.clock import MonotonicClock, try_realtime


class StampingPort(mido.ports.BaseOutput):
    """Remembers only the time of the first message after each bar start."""

    def __init__(self):
        self.last = 0.0
        self.count = 0
        super().__init__("stamp")

    def _send(self, msg):
        self.last = time.perf_counter()
        self.count += 1


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--bpm", type=float, default=300.0)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "soak.json")
    args = parser.parse_args()
    sys.setswitchinterval(0.0005)  # as livegan run does
    realtime = try_realtime()  # as livegan run does, where permitted
    generator = load_model(args.model or default_model_path(), threads=1)
    clock = MonotonicClock()
    port = StampingPort()
    minutes: list[dict] = []
    bar_seconds = 60 / args.bpm * generator.info.beats_per_bar
    total_bars = int(args.minutes * 60 / bar_seconds)
    state = {"t0": None, "minute": [], "start": time.perf_counter()}

    def on_bar(bar):
        seq = session.sequencer
        if state["t0"] is None:
            state["t0"] = seq.bar_starts[0]
        k = bar.number - 1
        state["minute"].append(seq.bar_starts[-1] - (state["t0"] + k * bar_seconds))
        if (k + 1) % int(60 / bar_seconds) == 0 or k + 1 == total_bars:
            late = seq.lateness.summary()
            minutes.append({"minute": len(minutes) + 1, "bars": k + 1,
                            "deadline_error_max_us": float(np.abs(state["minute"]).max() * 1e6),
                            "late_median_ms": late["median_ms"], "late_p99_ms": late["p99_ms"],
                            "rss_kib": rss_kib(), "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
            state["minute"] = []
            m = minutes[-1]
            print(f"minute {m['minute']:3d}  bars {m['bars']:5d}  deadline error {m['deadline_error_max_us']:7.3f} us  "
                  f"late median {m['late_median_ms']:.3f} ms  p99 {m['late_p99_ms']:.3f} ms  RSS {m['rss_kib'] / 1024:.1f} MiB",
                  flush=True)

    session = LiveSession(generator, load_moods(), ControlMap(), port, clock, SessionOptions(bpm=args.bpm, seed=0),
                          on_bar=on_bar)
    session.run(total_bars)
    first, last = minutes[0], minutes[-1]
    result = {"bpm": args.bpm, "minutes": args.minutes, "realtime_clock_thread": realtime,
              "model": str(args.model or default_model_path()), "bars": session.sequencer.bars_played, "events": port.count,
              "deadline_error_max_us": max(m["deadline_error_max_us"] for m in minutes),
              "lateness": session.sequencer.lateness.summary(),
              "rss_growth_kib_after_minute_1": last["rss_kib"] - first["rss_kib"], "per_minute": minutes}
    print(f"bars {result['bars']}, events {result['events']}; bar deadlines exact to "
          f"{result['deadline_error_max_us']:.3f} us; RSS growth after minute 1: {result['rss_growth_kib_after_minute_1']} KiB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
