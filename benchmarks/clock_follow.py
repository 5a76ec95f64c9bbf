"""How closely LiveGAN follows a DAW's MIDI clock, measured over real JACK; and the tempo estimate's error.

Usage: python benchmarks/clock_follow.py [--bars 8] [--json benchmarks/results/clock_follow.json]

A test client sends Start and clock (24 per beat) at 100 BPM, then at 130 BPM,
without and with +/- 1 ms of uniform jitter per tick (as loopMIDI delivers); the
daemon runs with --clock external; one JACK recording client (tests/jack_record.py) records both. Each note-on is
compared with the DAW's grid: a line fitted through the recorded ticks of each
tempo (the jitter-free grid), at the 16th the note belongs to. JACK quantizes
both to its period (2.67 ms), so deviations come in steps of it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from daemonkit import IN, OUT, Daemon  # noqa: E402
from jackkit import JackServer, MidiDump  # noqa: E402
from onnx_models import build_model  # noqa: E402

from livegan.timing.clock import MonotonicClock  # noqa: E402
from livegan.timing.transport import TempoEstimator  # noqa: E402


def send_clock(port, bpm_schedule, jitter, rng):
    """Send Start, then clocks per (bpm, ticks) segment at absolute deadlines with jitter; then Stop."""
    clock, t = MonotonicClock(), time.perf_counter() + 0.05
    port.send(mido.Message("start"))
    sent = []
    for bpm, ticks in bpm_schedule:
        period = 60 / bpm / 24
        for _ in range(ticks):
            clock.sleep_until(t + rng.uniform(-jitter, jitter))
            port.send(mido.Message("clock"))
            sent.append(time.perf_counter())
            t += period
    port.send(mido.Message("stop"))
    return sent


def follow(bars: int, jitter: float) -> dict:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp, JackServer() as server:
        os.environ.update(JACK_DEFAULT_SERVER=server.name, JACK_NO_START_SERVER="1")  # for this process's port
        model = build_model(Path(tmp) / "tiny.onnx", bias=-3.0)
        daemon = Daemon(server, "--model", str(model), "--clock", "external", "--seed", "2", "-q")
        try:
            server.wait_for_port(OUT, timeout=20)
            server.wait_for_port(IN, timeout=5)
            daw = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("clock", virtual=True, client_name="daw")
            dump = MidiDump(server, OUT)
            server.connect("daw:clock", dump.port)
            server.connect("daw:clock", IN)
            daemon.wait_line("waiting for MIDI clock")
            time.sleep(0.3)
            half = bars // 2 * 96
            send_clock(daw, [(100, half), (130, bars * 96 - half)], jitter, rng)
            time.sleep(0.3)
            daemon.stop(signal.SIGINT)
            events = dump.stop()
            daw.close()
        finally:
            daemon.kill()
        rate = server.sample_rate
        xruns = server.xruns()
    msgs = [(e.frame, mido.Message.from_bytes(list(e.data))) for e in events]
    ticks = np.array([f for f, m in msgs if m.type == "clock"])
    onsets = np.array([f for f, m in msgs if m.type == "note_on" and m.velocity])
    # The DAW's grid without its jitter: a line through the recorded ticks of each tempo segment.
    half = bars // 2 * 96
    index = np.arange(len(ticks))
    ideal = np.empty(len(ticks))
    for part in (slice(0, half), slice(half, None)):
        ideal[part] = np.polyval(np.polyfit(index[part], ticks[part], 1), index[part])
    grid = ideal[::6]
    nearest = np.abs(onsets[:, None] - grid[None, :]).argmin(axis=1)
    deviation_ms = (onsets - grid[nearest]) / rate * 1e3
    # Against the recorded tick itself (same JACK timeline, so JACK's own late cycles cancel out).
    tick_ms = np.abs(onsets - ticks[::6][nearest]) / rate * 1e3
    lateness = next((line for line in daemon.log if "event lateness" in line), "")
    return {"onsets": int(len(onsets)), "ticks": int(len(ticks)), "jitter_ms": jitter * 1e3, "jack_xruns": xruns,
            "jack_period_ms": server.period_seconds * 1e3,
            "deviation_median_ms": float(np.median(np.abs(deviation_ms))),
            "deviation_p99_ms": float(np.percentile(np.abs(deviation_ms), 99)),
            "deviation_max_ms": float(np.abs(deviation_ms).max()),
            "deviation_mean_signed_ms": float(deviation_ms.mean()),
            "vs_recorded_tick_median_ms": float(np.median(tick_ms)), "vs_recorded_tick_p99_ms": float(np.percentile(tick_ms, 99)),
            "vs_recorded_tick_max_ms": float(tick_ms.max()), "daemon_lateness": lateness.split("event lateness ")[-1]}


def tempo_error(jitter: float, window: int = 24, seconds: float = 60.0) -> dict:
    """The estimator alone on synthetic jittered ticks at 100 then 130 BPM."""
    rng = np.random.default_rng(1)
    out = {}
    for bpm in (100.0, 130.0):
        period = 60 / bpm / 24
        count = int(seconds / period)
        times = np.arange(count) * period + rng.uniform(-jitter, jitter, count)
        est, errors = TempoEstimator(window), []
        for k, t in enumerate(times):
            est.add(k, t)
            if k >= window:
                errors.append(abs(est.bpm - bpm))
        out[f"{bpm:g}"] = {"median_bpm": float(np.median(errors)), "p99_bpm": float(np.percentile(errors, 99)),
                           "max_bpm": float(np.max(errors))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "clock_follow.json")
    args = parser.parse_args()
    result = {"follow_jitter_0ms": follow(args.bars, 0.0), "follow_jitter_1ms": follow(args.bars, 0.001),
              "tempo_error_jitter_1ms": tempo_error(0.001)}
    print("onset deviation, ms: against the fitted (jitter-free) grid | against the recorded clock tick")
    print(f"{'run':<20}{'onsets':>7}{'median':>8}{'p99':>7}{'max':>7} |{'median':>8}{'p99':>7}{'max':>7}{'xruns':>7}")
    for name in ("follow_jitter_0ms", "follow_jitter_1ms"):
        r = result[name]
        print(f"{name:<20}{r['onsets']:>7}{r['deviation_median_ms']:>8.2f}{r['deviation_p99_ms']:>7.2f}{r['deviation_max_ms']:>7.2f} |"
              f"{r['vs_recorded_tick_median_ms']:>8.2f}{r['vs_recorded_tick_p99_ms']:>7.2f}{r['vs_recorded_tick_max_ms']:>7.2f}"
              f"{r['jack_xruns']:>7}")
        print(f"{'':<20}daemon's own event lateness: {r['daemon_lateness']}")
    print("tempo estimate error, +/-1 ms jitter, 24-tick window:")
    for bpm, r in result["tempo_error_jitter_1ms"].items():
        print(f"  {bpm} BPM: median {r['median_bpm']:.3f}, p99 {r['p99_bpm']:.3f}, max {r['max_bpm']:.3f} BPM")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
