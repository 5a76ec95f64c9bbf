"""Timing: how late the live path sends events, against mido's ``MidiFile.play()``; and whom JACK blames for xruns.

Part 1 (in process, idle and with every core kept busy): the real :class:`LiveSession` (ONNX
engine, composer thread, sequencer, :class:`MonotonicClock`), set up as ``livegan run`` sets
it (mood guidance 8, real-time clock thread where permitted, its hang watchdog, switch interval
0.5 ms, and the input polled by :class:`PolledInput` (every 2 ms) at its real-time
priority, from a stand-in for rtmidi's queue), plays to a recording port; lateness = send time -
deadline, as the sequencer records it (what ``livegan run`` logs at exit). Setups side by side in
one run: bars made in the daemon's own process (as before the worker) and in a worker process
(``livegan run``'s default), the LSTM (a step model) in a worker, and the default model while a
knob sweeps valence 20 times a second (control changes arriving through the input poller). The
default setups' messages (from a fake-clock simulation with the same seed) are written to a MIDI
file at 960 ticks per beat and played with ``MidiFile.play(now=time.perf_counter)`` at normal
priority; lateness = the time each message is sent - (start + its time in the file). Beside them, the
floor: the same deadlines kept by a C probe (``probe/floor.c``, built with the machine's C compiler,
skipped without one) at the clock thread's priority, sleeping and spinning as the clock does and
touching a few cache lines per message, with its memory left cold during the spin or kept hot.

Part 2 (a real JACK server, ``jackd -d dummy``): ``livegan run --api jack`` in its own
process, recorded by a JACK client (``tests/jack_record.py``); note-on frames are fitted to a straight 16th-note
grid (the first preset has no swing) and the residuals are the onset deviation that a
recording DAW would see; "in-bar" residuals are taken around each bar's own median, which
leaves out slow slips of JACK's frame clock (xruns of a non-realtime jackd on a busy machine). JACK delivers MIDI on period boundaries (128 frames at 48 kHz,
2.67 ms), so residuals of about +/-1.3 ms are the period's quantization.

Part 3 (xruns per client): a real-time ``jackd -d dummy`` at 128 frames (asynchronous, jackd's
default), ``livegan run --clock external`` following MIDI clock (120 BPM, 24 per beat) from a
sender in this process, with a control change every 12 ticks, and ``jack_midi_dump`` (a C
client) hearing both the sender and the daemon. Counted over the take (``--xrun-seconds``): the
xruns jackd's log blames on each client (``JackEngine::XRun: client ... was not finished``), the
cycles its driver began late, the daemon's own lateness (its exit line) and its CPU (daemon and
generation worker, % of one core).

    python benchmarks/timing.py --model models/musegan.onnx      # 16 bars at 120 BPM per condition
    python benchmarks/timing.py --model M.onnx --bars 32 --xrun-seconds 60
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the checkout and tests/ on sys.path)
import mido
import numpy as np
from common import (
    busy_cores,
    check_model,
    daemon_env,
    floor_lateness,
    parser,
    spread_ms,
    table,
    write_result,
)

OUT_PORT = "LiveGAN:LiveGAN Out"
LSTM = Path(__file__).resolve().parents[1] / "models" / "lstm.onnx"
LATENESS_LINE = re.compile(r"lateness median ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms")


def guide_for(generator) -> int:
    """livegan run's default guidance for this model: 8 candidates for a GAN, LSTM or VAE, none for an infill model."""
    from livegan.generation.guide import default_candidates

    return default_candidates(generator.info)


def simulate_events(generator, bars: int, bpm: float, seed: int) -> list[tuple[float, mido.Message]]:
    """The messages a session sends, at their exact deadlines (fake clock, generation inline)."""
    from livegan.live.session import LiveSession, SessionOptions
    from livegan.mood.controls import ControlMap
    from livegan.mood.presets import load_moods
    from livegan.ports.memory import MemoryOutput
    from livegan.timing.clock import FakeClock

    clock = FakeClock()
    port = MemoryOutput(clock.now)
    LiveSession(generator, load_moods(), ControlMap(), port, clock,
                SessionOptions(bpm=bpm, seed=seed, background=False, guide=guide_for(generator))).run(bars)
    return port.sent


class ScheduledInput:
    """Stands in for an rtmidi input's queue: each message can be read from its time on (seconds from
    now), as (bytes, seconds since the one before), as rtmidi hands them. Nothing of ours fills it while
    the session plays (JACK's thread fills rtmidi's, without the interpreter lock)."""

    def __init__(self, schedule: list[tuple[float, list[int]]]) -> None:
        start = time.perf_counter()
        self._due = deque((start + t, data) for t, data in schedule)
        self._last = start

    def get_message(self) -> tuple[list[int], float] | None:
        if not self._due or self._due[0][0] > time.perf_counter():
            return None
        due, data = self._due.popleft()
        delta, self._last = due - self._last, due
        return data, delta

    def close_port(self) -> None:
        pass

    def delete(self) -> None:
        pass


def daemon_lateness(generator, bars: int, bpm: float, seed: int, worker=None,
                    sweep: bool = False) -> tuple[np.ndarray, list[mido.Message]]:
    """Play ``bars`` in real time as ``livegan run`` does; (lateness seconds [events], messages sent).

    worker : a WorkerSpec (bars made in a worker process) or None (in this process);
    sweep : the valence knob (CC 21) moves 20 times a second all along, read by the input poller.
    """
    import os

    from livegan.commands.run import INPUT_PRIORITY
    from livegan.live.session import LiveSession, SessionOptions
    from livegan.mood.controls import ControlMap
    from livegan.mood.presets import load_moods
    from livegan.ports.memory import MemoryOutput
    from livegan.ports.midi import PolledInput
    from livegan.timing.clock import MonotonicClock, try_realtime
    from livegan.timing.sequencer import Lateness

    sys.setswitchinterval(0.0005)  # as livegan run sets it
    port = MemoryOutput()
    options = SessionOptions(bpm=bpm, seed=seed, guide=guide_for(generator), realtime=True)
    bar_seconds = 60.0 / bpm * generator.info.beats_per_bar
    clock = MonotonicClock(hang_timeout=10.0 + 3 * bar_seconds)  # as livegan run makes it
    session = LiveSession(generator, load_moods(), ControlMap(), port, clock, options, worker=worker)
    session.sequencer.lateness = Lateness(window=deque(maxlen=10**7))
    knob = [(0.05 * k, [0xB0, 21, 7 * k % 128]) for k in range(1, int((bars + 4) * bar_seconds / 0.05))] if sweep else []
    inport = PolledInput(ScheduledInput(knob), "benchmark input", session.on_message,
                         priority=lambda: try_realtime(INPUT_PRIORITY))
    try:
        session.run(bars)
    finally:
        inport.close()
        clock.disarm()
        sys.setswitchinterval(0.005)  # Python's default, for what follows (mido)
        if hasattr(os, "sched_setscheduler"):  # the clock thread was this one: back to normal for what follows
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    return np.array(session.sequencer.lateness.window), [m for _, m in port.sent]


def to_midifile(sent: list[tuple[float, mido.Message]], bpm: float, ticks_per_beat: int = 960) -> mido.MidiFile:
    """Timed messages -> a type 0 MIDI file at ``bpm``; times are exact on this grid for straight moods."""
    tempo = mido.bpm2tempo(bpm)
    tick_seconds = tempo / 1e6 / ticks_per_beat
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    first, last = sent[0][0], 0
    for t, msg in sent:
        tick = round((t - first) / tick_seconds)
        track.append(msg.copy(time=tick - last))
        last = tick
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    return midi


def mido_lateness(midi: mido.MidiFile) -> np.ndarray:
    """Play ``midi`` with ``MidiFile.play()`` to a recording port; lateness seconds of each message."""
    from livegan.ports.memory import MemoryOutput

    port, started, late, elapsed = MemoryOutput(), [], [], 0.0

    def now() -> float:
        t = time.perf_counter()
        if not started:
            started.append(t)  # play() reads its start time first
        return t

    for msg in midi.play(meta_messages=True, now=now):
        elapsed += msg.time
        if msg.is_meta:
            continue
        port.send(msg)
        late.append(time.perf_counter() - (started[0] + elapsed))
    return np.array(late)


SETUPS = (  # (name, model: "default" or "lstm", worker process?, knob sweep?)
    ("in-process", "default", False, False),
    ("worker", "default", True, False),
    ("worker, lstm", "lstm", True, False),
    ("worker, knob sweep", "default", True, True),
)


def in_process(model: Path, bars: int, bpm: float, seed: int, lstm: Path | None = None) -> dict[str, Any]:
    from livegan.generation.worker import WorkerSpec
    from livegan.model.engine import load_model

    paths = {"default": model, "lstm": lstm}
    generators = {k: load_model(p, threads=1) for k, p in paths.items() if p is not None}
    for g in generators.values():
        g.warm_up()
    sent = simulate_events(generators["default"], bars, bpm, seed)
    midi = to_midifile(sent, bpm)
    results = {}
    for condition in ("idle", "loaded"):
        with busy_cores() if condition == "loaded" else contextlib.nullcontext():
            played = mido_lateness(midi)
            rows = {"mido_play": spread_ms(played)}
            first = sent[0][0] if sent else 0.0
            for mode in ("cold", "hot"):  # what this machine allows: the same deadlines kept by a C probe
                late = floor_lateness([t - first for t, _ in sent], mode)
                if late is not None:
                    rows[f"floor_c_{mode}"] = spread_ms(late)
            for name, which, worker, sweep in SETUPS:
                if which not in generators:
                    continue
                spec = WorkerSpec(paths[which]) if worker else None
                late, messages = daemon_lateness(generators[which], bars, bpm, seed, spec, sweep)
                row = spread_ms(late)
                if which == "default" and not sweep:
                    row["same_messages"] = [m.bytes() for m in messages] == [m.bytes() for _, m in sent]
                rows[name] = row
        results[condition] = rows
    return results


def worker_repeats(model: Path, bars: int, bpm: float, seed: int, repeats: int) -> dict[str, Any]:
    """The worker setup, idle, ``repeats`` times: each run's spread and the median of their p99s."""
    from livegan.generation.worker import WorkerSpec
    from livegan.model.engine import load_model

    generator = load_model(model, threads=1)
    generator.warm_up()
    runs = [spread_ms(daemon_lateness(generator, bars, bpm, seed, WorkerSpec(model))[0]) for _ in range(repeats)]
    p99 = [r["p99_ms"] for r in runs]
    return {"runs": runs, "p99_ms": p99, "p99_median_ms": float(np.median(p99)),
            "runs_p99_at_most_0.1_ms": sum(v <= 0.1 for v in p99)}


def jack_take(model: Path, bars: int, bpm: float, seed: int) -> dict[str, Any]:
    """One ``livegan run --api jack`` take recorded by a JACK client: onset residuals from the 16th grid."""
    from jackkit import JackServer, MidiDump

    from livegan.model.engine import load_model

    info = load_model(model).info
    with JackServer(realtime=realtime_permitted()) as jack:  # timing is measured on a realtime server
        args = [sys.executable, "-m", "livegan", "run", "--api", "jack", "--model", str(model), "--bpm", str(bpm),
                "--bars", str(bars), "--seed", str(seed), "--no-input", "-q"]
        proc = subprocess.Popen(args, env=daemon_env(jack.env), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            jack.wait_for_port(OUT_PORT, timeout=60)
            dump = MidiDump(jack, source=OUT_PORT)
            _, stderr = proc.communicate(timeout=60 + bars * 240 / bpm)
            time.sleep(0.3)
            events = dump.stop()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        xruns, rate, period = jack.xruns(), jack.sample_rate, jack.period
    frames = [e.frame for e in events if e.data[0] & 0xF0 == 0x90 and len(e.data) > 2 and e.data[2] > 0]
    step_frames = 60 / bpm / info.steps_per_beat * rate
    residual, index, slope = grid_residuals(np.array(frames, dtype=float), step_frames)
    match = LATENESS_LINE.search(stderr)
    return {"onsets": len(frames), "deviation": spread_ms(np.abs(residual) / rate),
            "deviation_within_bar": spread_ms(np.abs(within_bars(residual, index, info.steps_per_bar)) / rate),
            "tempo_error_ppm": (slope / step_frames - 1) * 1e6 if len(frames) > 1 else None,
            "period_ms": period / rate * 1e3, "xruns": xruns, "exit_code": proc.returncode,
            "daemon_lateness_ms": dict(zip(("median_ms", "p99_ms", "max_ms"), map(float, match.groups()))) if match else None}


IN_PORT = "LiveGAN-in:LiveGAN In"
LIVEGAN_CLIENTS = ("LiveGAN-in", "LiveGAN")  # the daemon's input and output clients
C_CLIENT = "jack_midi_dump"
SENDER = "bench-daw"
CC_EVERY_TICKS = 12


def xrun_take(model: Path, seconds: float, bpm: float, seed: int) -> dict[str, Any]:
    """``livegan run --clock external`` on a real-time async jackd at 128 frames, fed MIDI clock and a CC
    every ``CC_EVERY_TICKS`` ticks for ``seconds``; the xruns jackd blames on each client meanwhile."""
    import signal

    from daemonkit import Daemon
    from jackkit import CMonitor, JackServer
    from startup import children

    from livegan.timing.clock import MonotonicClock

    with JackServer(realtime=realtime_permitted(), sync=False) as jack:
        import os

        os.environ.update(JACK_DEFAULT_SERVER=jack.name, JACK_NO_START_SERVER="1")  # for this process's sender
        daemon = Daemon(jack, "--model", str(model), "--clock", "external", "--seed", str(seed), "-q")
        monitor = sender = None
        try:
            jack.wait_for_port(OUT_PORT, timeout=60)
            jack.wait_for_port(IN_PORT, timeout=20)
            monitor = CMonitor(jack, C_CLIENT)
            sender = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("out", virtual=True, client_name=SENDER)
            for src, dst in ((f"{SENDER}:out", IN_PORT), (f"{SENDER}:out", monitor.port), (OUT_PORT, monitor.port)):
                jack.connect(src, dst)
            daemon.wait_line("waiting for MIDI clock", timeout=60)
            time.sleep(0.5)
            mark, kids = len(jack.log()), children(daemon.proc.pid)
            cpu0 = common.proc_cpu_seconds(daemon.proc.pid), sum(common.proc_cpu_seconds(k) for k in kids)
            began = time.perf_counter()
            ticks, ccs = send_clock(sender, MonotonicClock(), bpm, seconds)
            window = time.perf_counter() - began
            cpu1 = common.proc_cpu_seconds(daemon.proc.pid), sum(common.proc_cpu_seconds(k) for k in kids)
            blamed = jack.blamed(mark)
            time.sleep(0.3)
            code = daemon.stop(signal.SIGINT, timeout=30)
            events = monitor.stop()
        finally:
            if sender is not None:
                sender.close()
            if monitor is not None:
                monitor.stop()
            daemon.kill()
    lateness = next((LATENESS_LINE.search(line) for line in daemon.log if LATENESS_LINE.search(line)), None)
    notes = sum(1 for e in events if e.data[0] & 0xF0 == 0x90 and len(e.data) > 2 and e.data[2] > 0)
    daemon_cpu, worker_cpu = (100 * (cpu1[i] - cpu0[i]) / window for i in (0, 1))
    return {"seconds": window, "ticks_sent": ticks, "cc_sent": ccs, "note_ons_heard_by_c_client": notes,
            "cycles": round(window * jack.sample_rate / jack.period), "realtime_server": realtime_permitted(),
            "blamed": {name: blamed.get(name, 0) for name in (*LIVEGAN_CLIENTS, C_CLIENT, SENDER)} | blamed,
            "livegan_blamed": sum(blamed.get(name, 0) for name in LIVEGAN_CLIENTS), "c_client_blamed": blamed.get(C_CLIENT, 0),
            "cpu_percent": daemon_cpu + worker_cpu, "daemon_cpu_percent": daemon_cpu, "worker_cpu_percent": worker_cpu,
            "exit_code": code,
            "daemon_lateness_ms": dict(zip(("median_ms", "p99_ms", "max_ms"), map(float, lateness.groups()))) if lateness else None}


def send_clock(port, clock, bpm: float, seconds: float) -> tuple[int, int]:
    """Start, 24 clocks per beat at ``bpm`` on absolute deadlines with a valence CC every ``CC_EVERY_TICKS``
    ticks, for ``seconds``; then Stop. (ticks, control changes) sent."""
    period = 60.0 / bpm / 24
    count = int(seconds / period)
    port.send(mido.Message("start"))
    t0 = clock.now() + 0.05
    for tick in range(count):
        clock.sleep_until(t0 + tick * period)
        port.send(mido.Message("clock"))
        if tick % CC_EVERY_TICKS == CC_EVERY_TICKS // 2:  # between two of the daemon's 16ths
            port.send(mido.Message("control_change", control=21, value=tick // CC_EVERY_TICKS * 7 % 128))
    port.send(mido.Message("stop"))
    return count, len(range(CC_EVERY_TICKS // 2, count, CC_EVERY_TICKS))


def realtime_permitted() -> bool:
    """Whether this machine lets a process take real-time scheduling (what ``chrt -f 10 true`` tells)."""
    return subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0


def grid_residuals(frames: np.ndarray, step_frames: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit frames = origin + k * step (k the nearest grid index) by least squares; (residuals, k, fitted step)."""
    slope, origin = step_frames, frames[0] if len(frames) else 0.0
    index = np.zeros(len(frames))
    for _ in range(3):  # the grid index of each onset, then the line through them, twice more
        index = np.round((frames - origin) / slope)
        if len(frames) < 2 or np.ptp(index) == 0:
            break
        slope, origin = np.polyfit(index, frames, 1)
    return frames - (origin + slope * index), index, float(slope)


def within_bars(residual: np.ndarray, index: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """Residuals around each bar's own median: the jitter inside a bar, without slow slips of JACK's frame clock."""
    bars = (index // steps_per_bar).astype(int)
    out = residual.copy()
    for bar in np.unique(bars):
        out[bars == bar] -= np.median(residual[bars == bar])
    return out


def main() -> None:
    p = parser("timing", "Event lateness (livegan vs mido), idle and loaded; onset deviation through JACK.")
    p.add_argument("--bars", type=int, default=16, help="bars per condition (default: %(default)s)")
    p.add_argument("--bpm", type=float, default=120.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-jack", action="store_true", help="skip the real-JACK parts (2 and 3)")
    p.add_argument("--xrun-seconds", type=float, default=20.0, help="seconds of MIDI clock per condition in part 3 "
                   "(default: %(default)s)")
    p.add_argument("--repeats", type=int, default=0, help="then play the worker setup, idle, this many more times and "
                   "give each run's p99 and their median: one run's p99 is its ~6th latest event, and on a shared VM it "
                   "moves from run to run (default: %(default)s)")
    args = p.parse_args()
    bars, bpm = (1, 400.0) if args.quick else (args.bars, args.bpm)
    xrun_seconds = 2.0 if args.quick else args.xrun_seconds
    model = check_model(args.model)
    from livegan.model.engine import load_model

    lstm = None if args.quick or not LSTM.is_file() else LSTM
    conditions = ("idle",) if args.quick else ("idle", "loaded")
    results: dict[str, Any] = {"model": str(model), "lstm": str(lstm) if lstm else None, "bars": bars, "bpm": bpm,
                               "guide": guide_for(load_model(model)), "in_process": in_process(model, bars, bpm, args.seed, lstm)}
    if args.repeats:
        results["worker_idle_repeats"] = worker_repeats(model, bars, bpm, args.seed, args.repeats)
    results["jack"] = jack_part(lambda: jack_take(model, bars, bpm, args.seed), args.no_jack, conditions)
    results["xruns"] = jack_part(lambda: xrun_take(model, xrun_seconds, 120.0, args.seed), args.no_jack, conditions)
    print_tables(results)
    write_result(args.out, "timing", args, results)


def jack_part(take, skip: bool, conditions: tuple[str, ...]) -> dict[str, Any]:
    """``take()`` once per condition ("idle", "loaded": every core kept busy), or why it was skipped."""
    from jackkit import missing_tools

    if skip or missing_tools():
        return {"skipped": "--no-jack" if skip else f"missing {', '.join(missing_tools())} (apt-get install jackd2)"}
    out = {}
    for condition in conditions:
        with busy_cores() if condition == "loaded" else contextlib.nullcontext():
            out[condition] = take()
    return out


def print_tables(results: dict[str, Any]) -> None:
    rows = []
    for condition, r in results["in_process"].items():
        for who, s in r.items():
            label = {"mido_play": "mido MidiFile.play()", "floor_c_cold": "floor: C probe, memory cold",
                     "floor_c_hot": "floor: C probe, memory kept hot"}.get(who, f"livegan, {who}")
            same = {True: "same msgs", False: "DIFFERENT"}.get(s.get("same_messages"), "")
            rows.append([label, condition, s["median_ms"], s["p99_ms"], s["max_ms"], s["n"], same])
    print(table(f"event lateness, ms ({results['bars']} bars at {results['bpm']:g} BPM, {Path(results['model']).name}, "
                f"guide {results['guide']}, real-time clock thread where permitted)",
                ["who", "condition", "median", "p99", "max", "events", "vs mido"], rows))
    if "worker_idle_repeats" in results:
        r = results["worker_idle_repeats"]
        print(f"worker, idle, {len(r['p99_ms'])} more runs: p99 {', '.join(f'{v:.3f}' for v in r['p99_ms'])} ms; "
              f"median {r['p99_median_ms']:.3f} ms; {r['runs_p99_at_most_0.1_ms']} at most 0.1 ms")
    jack = results["jack"]
    if "skipped" in jack:
        print(f"\nJACK part skipped: {jack['skipped']}")
        return
    rows = [[c, r["onsets"], r["deviation"]["median_ms"], r["deviation"]["p99_ms"], r["deviation"]["max_ms"],
             r["deviation_within_bar"]["median_ms"], r["deviation_within_bar"]["p99_ms"],
             r["tempo_error_ppm"], r["xruns"], (r["daemon_lateness_ms"] or {}).get("p99_ms")] for c, r in jack.items()]
    print()
    print(table(f"onsets recorded by a JACK client vs the 16th grid, |residual| ms (period {next(iter(jack.values()))['period_ms']:.2f} ms)",
                ["condition", "onsets", "median", "p99", "max", "in-bar median", "in-bar p99", "tempo ppm", "xruns",
                 "daemon p99"], rows))
    xruns = results["xruns"]
    if "skipped" in xruns:
        return
    clients = sorted({name for r in xruns.values() for name in r["blamed"]}, key=lambda n: (n == "(driver)", n))
    rows = [[c, r["seconds"], r["cycles"], *(r["blamed"].get(n, 0) for n in clients), r["note_ons_heard_by_c_client"],
             (r["daemon_lateness_ms"] or {}).get("median_ms"), (r["daemon_lateness_ms"] or {}).get("p99_ms"),
             (r["daemon_lateness_ms"] or {}).get("max_ms"), r["cpu_percent"]] for c, r in xruns.items()]
    first = next(iter(xruns.values()))
    print()
    print(table(f"xruns jackd blamed on each client: livegan run --clock external, MIDI clock at 120 BPM and a CC every "
                f"{CC_EVERY_TICKS} ticks ({first['cc_sent']} CCs), {'real-time' if first['realtime_server'] else 'NON-real-time'} "
                "async jackd, 128 frames",
                ["condition", "s", "cycles", *clients, "notes heard", "daemon median", "p99", "max", "CPU %"], rows))


if __name__ == "__main__":
    main()
