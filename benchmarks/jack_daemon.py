"""``livegan run`` as a subprocess on a private JACK server, heard by a listener in this process.

The listener is an rtmidi JACK input whose callback only stamps ``time.perf_counter()``
on arrival, so daemon output and our own control messages share one clock. Arrival
times include JACK's delivery (one period, 2.67 ms at 128 frames and 48 kHz).
"""

from __future__ import annotations

import bisect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (puts the checkout and tests/ on sys.path)
import mido
from common import daemon_env

OUT_PORT, IN_PORT = "LiveGAN:LiveGAN Out", "LiveGAN-in:LiveGAN In"


class Listener:
    """Joins ``jack``; connects to a daemon's ports once they exist and keeps (arrival time, message) pairs."""

    def __init__(self, jack) -> None:
        import rtmidi

        os.environ.update(JACK_DEFAULT_SERVER=jack.name, JACK_NO_START_SERVER="1")  # rtmidi reads these
        self.midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="bench-listener")
        self.midi_out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="bench-control")
        self.arrivals: list[tuple[float, mido.Message]] = []

    def _record(self, event, data=None) -> None:
        self.arrivals.append((time.perf_counter(), mido.Message.from_bytes(event[0])))

    def wait_for_port(self, name: str, timeout: float, proc: subprocess.Popen | None = None, output: bool = True) -> float:
        """Poll (every 2 ms) until JACK port ``name`` exists; return when it was seen."""
        ports = self.midi_in if output else self.midi_out
        deadline = time.perf_counter() + timeout
        while name not in ports.get_ports():
            if time.perf_counter() > deadline or (proc is not None and proc.poll() is not None):
                raise RuntimeError(f"JACK port {name!r} did not appear (daemon exit code {proc and proc.poll()})")
            time.sleep(0.002)
        return time.perf_counter()

    def listen(self, name: str) -> None:
        self.midi_in.set_callback(self._record)
        self.midi_in.open_port(self.midi_in.get_ports().index(name))

    def control(self, name: str) -> None:
        self.midi_out.open_port(self.midi_out.get_ports().index(name))

    def send(self, msg: mido.Message) -> float:
        self.midi_out.send_message(msg.bytes())
        return time.perf_counter()

    def first(self, kind: str, after: float = 0.0, timeout: float = 30.0, test=lambda m: True) -> tuple[float, mido.Message]:
        """Wait for the first arrival of type ``kind`` after time ``after`` that passes ``test``."""
        deadline, seen = time.perf_counter() + timeout, bisect.bisect_right(self.arrivals, after, key=lambda a: a[0])
        while time.perf_counter() < deadline:
            new = self.arrivals[seen:]  # arrivals are appended in time order
            seen += len(new)
            for t, m in new:
                if m.type == kind and (kind != "note_on" or m.velocity > 0) and test(m):
                    return t, m
            time.sleep(0.002)
        raise TimeoutError(f"no {kind} arrived within {timeout} s")

    def close(self) -> None:
        """Close both JACK clients now (before the server stops), not whenever the collector runs."""
        self.midi_in.cancel_callback()
        for client in (self.midi_in, self.midi_out):
            client.close_port()
            client.delete()


def start(jack, model: Path, *args: str) -> subprocess.Popen:
    """``livegan run --api jack --model MODEL ARGS`` on ``jack``, with torch made unimportable."""
    command = [sys.executable, "-m", "livegan", "run", "--api", "jack", "--model", str(model), "-q", *args]
    return subprocess.Popen(command, env=daemon_env(jack.env), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str]:
    """SIGINT if still running (the daemon releases its notes), then wait; (exit code, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    return proc.returncode, stderr
