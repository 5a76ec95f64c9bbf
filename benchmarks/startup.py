"""Start-up time to the first note, CPU use while streaming, and memory, of ``livegan run``.

Each start launches ``livegan run --api jack`` (torch made unimportable) on a private
``jackd -d dummy`` and times, from ``Popen``: its output port appearing, bar 1 (the first
program change, sent at bar 1's deadline) and the first note-on arriving at a JACK
listener in this process. The first bar starts ``preroll`` (0.1 s) after the first phrase
is generated, so the first note-on also waits for the first sounding step of bar 1.

One longer take then reads /proc/<pid>/stat and /proc/<pid>/status while it streams:
CPU (user + system, all threads, % of one core) over a window after the first note, the
resident set (VmRSS) and its peak (VmHWM).

    python benchmarks/startup.py                 # the shipped model; 5 starts and a 20 s take
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    check_model,
    parser,
    proc_cpu_seconds,
    proc_memory_mb,
    spread_ms,
    table,
    write_result,
)
from jack_daemon import OUT_PORT, Listener, start, stop

READY_LINE = re.compile(r"ready in ([\d.]+) s")


def one_start(model: Path, bpm: float, bars: int, window: float = 0.0) -> dict[str, Any]:
    """One daemon run: milestones in seconds from Popen, and (with ``window``) CPU and memory while streaming."""
    from jackkit import JackServer

    with JackServer() as jack:
        listener = Listener(jack)
        began = time.perf_counter()
        proc = start(jack, model, "--bpm", str(bpm), "--bars", str(bars), "--seed", "1", "--no-input")
        try:
            port = listener.wait_for_port(OUT_PORT, 60, proc)
            listener.listen(OUT_PORT)
            bar1, _ = listener.first("program_change", timeout=30)
            note, _ = listener.first("note_on", timeout=30)
            usage = streaming_usage(proc.pid, window) if window else {}
        finally:
            code, stderr = stop(proc, timeout=30 + bars * 240 / bpm)
            listener.close()
    ready = READY_LINE.search(stderr)
    return {"port_s": port - began, "bar1_s": bar1 - began, "first_note_s": note - began,
            "daemon_ready_s": float(ready.group(1)) if ready else None, "exit_code": code, **usage}


def children(pid: int) -> list[int]:
    """The generation worker processes ``pid`` started, from /proc (multiprocessing's resource
    tracker, also a child, is not one)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


def streaming_usage(pid: int, window: float) -> dict[str, Any]:
    """CPU % of one core over ``window`` seconds, starting one second from now, of the daemon and of
    its worker process (and both together); then memory."""
    time.sleep(1.0)
    kids = children(pid)
    cpu0, kid0, t0 = proc_cpu_seconds(pid), sum(proc_cpu_seconds(k) for k in kids), time.perf_counter()
    time.sleep(window)
    cpu1, kid1, t1 = proc_cpu_seconds(pid), sum(proc_cpu_seconds(k) for k in kids), time.perf_counter()
    threads = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Threads:"))
    daemon, worker = 100 * (cpu1 - cpu0) / (t1 - t0), 100 * (kid1 - kid0) / (t1 - t0)
    worker_rss = sum(proc_memory_mb(k)["rss_mb"] for k in kids)
    return {"cpu_percent": daemon + worker, "daemon_cpu_percent": daemon, "worker_cpu_percent": worker,
            "workers": len(kids), "worker_rss_mb": worker_rss, "cpu_window_s": t1 - t0, "threads": threads,
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
    take = one_start(model, bpm, bars=int(np.ceil((window + 3.0) / bar_s)) + 1, window=window)
    results = {"model": str(model), "bpm": bpm, "starts": runs, "streaming": take,
               "summary": {k: spread_ms([r[k] for r in runs]) for k in ("port_s", "bar1_s", "first_note_s")}}
    print_tables(results)
    write_result(args.out, "startup", args, results)


def print_tables(results: dict[str, Any]) -> None:
    labels = {"port_s": "output port exists", "bar1_s": "bar 1 starts (program change)", "first_note_s": "first note-on"}
    rows = [[labels[k], s["n"], s["median_ms"] / 1e3, s["max_ms"] / 1e3] for k, s in results["summary"].items()]
    print(table(f"start-up of livegan run, seconds from process start ({Path(results['model']).name})",
                ["milestone", "starts", "median s", "max s"], rows))
    s = results["streaming"]
    print()
    print(table("while streaming (CPU: daemon + its worker process)",
                ["CPU % of one core", "daemon %", "worker %", "threads", "RSS MiB", "private", "files", "shared (JACK)",
                 "peak RSS MiB", "worker RSS MiB", "window s"],
                [[s["cpu_percent"], s["daemon_cpu_percent"], s["worker_cpu_percent"], s["threads"], s["rss_mb"],
                  s["rss_anon_mb"], s["rss_file_mb"], s["rss_shmem_mb"], s["peak_rss_mb"], s["worker_rss_mb"],
                  s["cpu_window_s"]]]))


if __name__ == "__main__":
    main()
