"""Shared parts of the benchmark scripts: arguments, environment facts, load, tables and JSON.

Benchmarks are scripts, not tests: each prints a table and writes commit-friendly JSON
(sorted keys, rounded numbers, the command and the machine) to ``benchmarks/results/``
or ``--out``. ``--quick`` runs a tiny version (the smoke tests in
``tests/test_benchmarks.py`` use it); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
RESULTS = REPO / "benchmarks" / "results"
NO_TORCH = TESTS / "no_torch"  # first on a daemon's PYTHONPATH: importing torch there fails loudly
for _path in (str(REPO), str(TESTS)):  # livegan from this checkout; jackkit and onnx_models from tests/
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np

from livegan.evaluation.evaluate import jsonable

_STARTED: dict[str, Any] = {}  # when the benchmark began, and how busy the machine was then


def parser(name: str, description: str, model: bool = True, default_model: str = "default.onnx") -> argparse.ArgumentParser:
    """Arguments every benchmark takes: --quick, --out, and (most) --model. Notes the start time and load."""
    _STARTED.update(date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    load=round(os.getloadavg()[0], 2), clock=time.perf_counter())
    p = argparse.ArgumentParser(prog=f"benchmarks/{name}.py", description=description)
    p.add_argument("--quick", action="store_true", help="a tiny run for smoke tests; its numbers mean nothing")
    p.add_argument("--out", type=Path, default=RESULTS / f"{name}.json", help="JSON file to write (default: %(default)s)")
    if model:
        p.add_argument("--model", type=Path, default=REPO / "models" / default_model, help="ONNX model (default: %(default)s)")
    return p


def check_model(path: Path) -> Path:
    if not path.is_file():
        sys.exit(f"no model at '{path}': pass --model FILE.onnx (e.g. one from 'livegan export')")
    return path


def environment() -> dict[str, Any]:
    """Facts that make a figure comparable: machine, load, versions, commit, date."""
    import onnxruntime

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {"date": _STARTED.get("date", now), "duration_s": round(time.perf_counter() - _STARTED.get("clock", time.perf_counter()), 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            "cpu": _cpu_name(), "load_average_1m_before": _STARTED.get("load", round(os.getloadavg()[0], 2)),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "numpy": np.__version__, "onnxruntime": onnxruntime.__version__,
            "commit": commit + (" (uncommitted changes)" if dirty else ""), "gpu": "not measured here (no GPU)"}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def spread_ms(seconds: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Count, median, p99 and max of durations given in seconds, in milliseconds."""
    x = np.asarray(seconds, dtype=float) * 1e3
    if x.size == 0:
        return {"n": 0, "median_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan}
    return {"n": int(x.size), "median_ms": float(np.median(x)), "p99_ms": float(np.percentile(x, 99)), "max_ms": float(x.max())}


@contextlib.contextmanager
def busy_cores(n: int | None = None) -> Iterator[list[int]]:
    """Keep ``n`` cores (default: all) busy with spinning processes; stop each by its pid afterwards."""
    n = (os.cpu_count() or 1) if n is None else n
    # each spins until stopped, or until the benchmark that started it is gone (killed, it cannot stop them)
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    for _ in range(100000): pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(n)]
    try:
        time.sleep(0.3)  # let the scheduler see them
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGTERM)
            p.wait(5)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table; floats get 2 decimals, None shows as '-'."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    line = lambda values: "  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(values, widths)))
    return "\n".join([title, line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def clean(value: Any) -> Any:
    """JSON-ready results: the same rounding and NaN handling as ``livegan eval --json``."""
    return jsonable(value)


def write_result(path: Path, name: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Write ``{"benchmark", "command", "environment", "quick", "results"}`` as sorted, indented JSON."""
    argv = " ".join(sys.argv[1:])
    payload = {"benchmark": name, "command": f"python benchmarks/{name}.py {argv}".strip(),
               "quick": bool(args.quick), "environment": environment(), "results": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(payload), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")


def daemon_env(extra: dict[str, str]) -> dict[str, str]:
    """Environment for a ``livegan run`` subprocess: ``extra`` (e.g. a JACK server's) plus the no-torch guard."""
    path = os.pathsep.join(p for p in (str(NO_TORCH), str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return dict(extra, PYTHONPATH=path)


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


MEMORY_FIELDS = {"VmRSS": "rss_mb", "VmHWM": "peak_rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb",
                 "RssShmem": "rss_shmem_mb"}


def proc_memory_mb(pid: int) -> dict[str, float]:
    """Resident set of process ``pid`` in MiB: now, its peak, and its parts (private, file-backed, shared
    memory; a JACK client maps the server's shared segments, which count in RSS)."""
    values = {name: math.nan for name in MEMORY_FIELDS.values()}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in MEMORY_FIELDS:
            values[MEMORY_FIELDS[key]] = int(rest.split()[0]) / 1024
    return values


PROBE = Path(__file__).resolve().parent / "probe" / "floor.c"


def floor_probe(*args: str) -> subprocess.Popen | None:
    """``probe/floor.c`` (what this machine allows a real-time thread, in C) built with the machine's C compiler
    and started with ``args``, stdout piped; None without a compiler."""
    build = Path(tempfile.gettempdir()) / "livegan-floor-probe"
    if not build.exists() or build.stat().st_mtime < PROBE.stat().st_mtime:
        try:
            subprocess.run(["cc", "-O2", "-o", str(build), str(PROBE)], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return None
    return subprocess.Popen([str(build), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def floor_lateness(deadlines: Sequence[float], mode: str) -> np.ndarray | None:
    """Lateness (s) of the C probe's "sends" at ``deadlines`` (s from its start; equal ones are a chord), its spin
    ``mode`` "cold" or "hot" (see probe/floor.c); None without a C compiler."""
    probe = floor_probe(mode)
    if probe is None:
        return None
    out, _ = probe.communicate("\n".join(f"{d:.9f}" for d in deadlines), timeout=max(deadlines, default=0) + 60)
    return np.array([float(v) for v in out.split()])
