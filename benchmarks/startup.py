"""Start-up time to the first note, CPU use while streaming, and memory, of ``livegan run``.

Each start launches ``livegan run --api jack`` (torch made unimportable) on a private
``jackd -d dummy`` and times, from ``Popen``: its output port appearing, bar 1 (the first
program change, sent at bar 1's deadline) and the first note-on arriving at a JACK
listener in this process. The first bar starts ``preroll`` (0.1 s) after the first phrase
is generated, so the first note-on also waits for the first sounding step of bar 1.

Two longer takes then read /proc/<pid>/stat and /proc/<pid>/status while they stream, one with
``--no-input`` and one with the input port (``livegan run``'s default, nothing connected): CPU
(user + system, % of one core) over a window after the first note, of the daemon, of its worker
process, and of each of the daemon's threads (/proc/<pid>/task; LiveGAN names its own threads for
the OS, the clock thread is the main one, the rest are libjack's and rtmidi's process threads,
ONNX Runtime's and faulthandler's); the resident set (VmRSS) and its peak (VmHWM). Beside them,
over the same window: ``jack_midi_dump`` (Debian's C client) hearing the daemon, and the C probe
(``probe/floor.c``) waking every 2 ms as the input poller does: what a JACK client and such
polling cost on this machine with no Python at all.

    python benchmarks/startup.py                 # the shipped model; 5 starts and two 16 s takes
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    check_model,
    floor_probe,
    parser,
    proc_cpu_seconds,
    proc_memory_mb,
    spread_ms,
    table,
    write_result,
)
from jack_daemon import OUT_PORT, Listener, start, stop

READY_LINE = re.compile(r"ready in ([\d.]+) s")


def one_start(model: Path, bpm: float, bars: int, window: float = 0.0, with_input: bool = False) -> dict[str, Any]:
    """One daemon run: milestones in seconds from Popen, and (with ``window``) CPU and memory while streaming,
    with a C client hearing the daemon and the C probe polling beside it."""
    from jackkit import CMonitor, JackServer

    with JackServer() as jack:
        listener = Listener(jack)
        began = time.perf_counter()
        proc = start(jack, model, "--bpm", str(bpm), "--bars", str(bars), "--seed", "1", *([] if with_input else ["--no-input"]))
        monitor = None
        try:
            port = listener.wait_for_port(OUT_PORT, 60, proc)
            listener.listen(OUT_PORT)
            bar1, _ = listener.first("program_change", timeout=30)
            note, _ = listener.first("note_on", timeout=30)
            usage = {}
            if window:
                monitor = CMonitor(jack)
                connect_retrying(jack, OUT_PORT, monitor.port)
                usage = streaming_usage(proc.pid, window, {"jack_midi_dump (C client)": monitor.pid})
        finally:
            if monitor is not None:
                monitor.stop()
            code, stderr = stop(proc, timeout=30 + bars * 240 / bpm)
            listener.close()
    ready = READY_LINE.search(stderr)
    return {"port_s": port - began, "bar1_s": bar1 - began, "first_note_s": note - began,
            "daemon_ready_s": float(ready.group(1)) if ready else None, "exit_code": code, **usage}


def connect_retrying(jack, src: str, dst: str, tries: int = 20) -> None:
    """jack.connect, again after 0.1 s while the server refuses (a client that has just appeared on a busy
    server is not always ready to be connected at once)."""
    for attempt in range(tries):
        try:
            return jack.connect(src, dst)
        except RuntimeError as exc:
            print(f"  {exc}; again", flush=True)
            if attempt == tries - 1:
                raise
            time.sleep(0.1)


def children(pid: int) -> list[int]:
    """The generation worker processes ``pid`` started, from /proc (multiprocessing's resource
    tracker, also a child, is not one)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds so far of each thread of ``pid``, by the name the OS knows it by (the main thread, the
    daemon's clock thread, as "clock (main)"; threads sharing a name are summed)."""
    ticks = os.sysconf("SC_CLK_TCK")
    usage: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
            name = "clock (main)" if task.name == str(pid) else (task / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
        usage[name] = usage.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return usage


def streaming_usage(pid: int, window: float, beside: dict[str, int] | None = None) -> dict[str, Any]:
    """CPU % of one core over ``window`` seconds, starting one second from now, of the daemon, of each of
    its threads, of its worker process (and both together), of the processes ``beside`` (name: pid) and of
    the C probe waking every 2 ms over the same window; then memory."""
    beside = dict(beside or {})
    time.sleep(1.0)
    kids = children(pid)
    probe = floor_probe("sleep", str(window + 0.5), "0.002")
    if probe is not None:
        beside["C probe, waking every 2 ms"] = probe.pid
    cpu0, kid0, t0 = proc_cpu_seconds(pid), sum(proc_cpu_seconds(k) for k in kids), time.perf_counter()
    threads0, beside0 = thread_cpu_seconds(pid), {k: proc_cpu_seconds(v) for k, v in beside.items()}
    time.sleep(window)
    cpu1, kid1, t1 = proc_cpu_seconds(pid), sum(proc_cpu_seconds(k) for k in kids), time.perf_counter()
    threads1, beside1 = thread_cpu_seconds(pid), {k: proc_cpu_seconds(v) for k, v in beside.items()}
    if probe is not None:
        probe.wait(timeout=10)
    threads = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Threads:"))
    span = t1 - t0
    daemon, worker = 100 * (cpu1 - cpu0) / span, 100 * (kid1 - kid0) / span
    worker_rss = sum(proc_memory_mb(k)["rss_mb"] for k in kids)
    per_thread = {k: 100 * (v - threads0.get(k, 0.0)) / span for k, v in sorted(threads1.items())}
    return {"cpu_percent": daemon + worker, "daemon_cpu_percent": daemon, "worker_cpu_percent": worker,
            "thread_cpu_percent": per_thread, "beside_cpu_percent": {k: 100 * (beside1[k] - beside0[k]) / span for k in beside},
            "workers": len(kids), "worker_rss_mb": worker_rss, "cpu_window_s": span, "threads": threads,
            **proc_memory_mb(pid)}


def main() -> None:
    p = parser("startup", "Start-up time to the first note; CPU and memory while streaming (real JACK).")
    p.add_argument("--starts", type=int, default=5, help="start-ups timed (default: %(default)s)")
    p.add_argument("--bpm", type=float, default=120.0)
    p.add_argument("--window", type=float, default=16.0, help="seconds of streaming measured for CPU (default: %(default)s)")
    args = p.parse_args()
    model = check_model(args.model)
    starts, window, bpm = (1, 1.0, 240.0) if args.quick else (args.starts, args.window, args.bpm)
    runs = [one_start(model, bpm, bars=2) for _ in range(starts)]
    bar_s = 240 / bpm
    bars = int(np.ceil((window + 5.0) / bar_s)) + 1
    takes = {name: one_start(model, bpm, bars=bars, window=window, with_input=name == "with input")
             for name in ("no input", "with input")}
    results = {"model": str(model), "bpm": bpm, "starts": runs, "streaming": takes,
               "summary": {k: spread_ms([r[k] for r in runs]) for k in ("port_s", "bar1_s", "first_note_s")}}
    print_tables(results)
    write_result(args.out, "startup", args, results)


def print_tables(results: dict[str, Any]) -> None:
    labels = {"port_s": "output port exists", "bar1_s": "bar 1 starts (program change)", "first_note_s": "first note-on"}
    rows = [[labels[k], s["n"], s["median_ms"] / 1e3, s["max_ms"] / 1e3] for k, s in results["summary"].items()]
    print(table(f"start-up of livegan run, seconds from process start ({Path(results['model']).name})",
                ["milestone", "starts", "median s", "max s"], rows))
    takes = results["streaming"]
    print()
    print(table("while streaming (CPU: daemon + its worker process)",
                ["take", "CPU % of one core", "daemon %", "worker %", "threads", "RSS MiB", "private", "files",
                 "shared (JACK)", "peak RSS MiB", "worker RSS MiB", "window s"],
                [[name, s["cpu_percent"], s["daemon_cpu_percent"], s["worker_cpu_percent"], s["threads"], s["rss_mb"],
                  s["rss_anon_mb"], s["rss_file_mb"], s["rss_shmem_mb"], s["peak_rss_mb"], s["worker_rss_mb"],
                  s["cpu_window_s"]] for name, s in takes.items()]))
    names = sorted({n for s in takes.values() for n in s["thread_cpu_percent"]})
    beside = sorted({n for s in takes.values() for n in s["beside_cpu_percent"]})
    rows = [[f"daemon: {n}", *(s["thread_cpu_percent"].get(n, "") for s in takes.values())] for n in names]
    rows += [["daemon, all threads", *(s["daemon_cpu_percent"] for s in takes.values())]]
    rows += [[f"beside it: {n}", *(s["beside_cpu_percent"].get(n, "") for s in takes.values())] for n in beside]
    print()
    print(table("CPU % of one core per thread (unnamed threads: libjack's and rtmidi's, ONNX Runtime's, faulthandler's)",
                ["thread", *takes], rows))


if __name__ == "__main__":
    main()
