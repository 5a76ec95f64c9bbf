"""Driving ``livegan run`` as a subprocess in tests, and reading what a JACK client recorded."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
from jackkit import Event, JackServer, die_with_parent

OUT, IN = "LiveGAN:LiveGAN Out", "LiveGAN-in:LiveGAN In"
NO_TORCH = Path(__file__).parent / "no_torch"


class Daemon:
    """``livegan run`` as a subprocess; stderr lines are collected with the time they arrived."""

    def __init__(self, server: JackServer, *args: str) -> None:
        env = dict(server.env, PYTHONPATH=os.pathsep.join([str(NO_TORCH), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen([sys.executable, "-m", "livegan", "run", "--api", "jack", *args],
                                     env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     preexec_fn=die_with_parent)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put((time.perf_counter(), line.rstrip()))

    def wait_line(self, text: str, timeout: float = 20.0) -> float:
        """Wait for a stderr line containing ``text``; return when it arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                when, line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.log.append(line)
            if text in line:
                return when
        raise AssertionError(f"daemon never printed {text!r}; stderr so far: {self.log}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        time.sleep(0.1)
        while not self.lines.empty():
            self.log.append(self.lines.get()[1])
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def note_pairs(events: list[Event]):
    """Pair each note-on with the next note-off of the same channel and pitch."""
    sounding, pairs = {}, []
    for i, e in enumerate(events):
        msg = mido.Message.from_bytes(list(e.data))
        if msg.type == "note_on" and msg.velocity:
            if (msg.channel, msg.note) in sounding:
                context = "\n".join(f"  {x.frame:>9} {mido.Message.from_bytes(list(x.data))}"
                                     for x in events[max(0, i - 12):i + 3])
                raise AssertionError(f"note-on {msg} at frame {e.frame} while it already sounds "
                                     f"(since frame {sounding[(msg.channel, msg.note)][0].frame}); "
                                     f"{len(events)} events, these around it:\n{context}")
            sounding[(msg.channel, msg.note)] = (e, msg)
        elif msg.type in ("note_on", "note_off") and (msg.channel, msg.note) in sounding:
            pairs.append((sounding.pop((msg.channel, msg.note)), (e, msg)))
    return pairs, sounding


def sent_events(take: Path) -> list[Event]:
    """What the daemon itself sent, read back from its ``--record`` take: channel messages
    in the order sent on each channel (one track per channel), ``frame`` = the tick."""
    events = []
    for track in mido.MidiFile(take).tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if not msg.is_meta and hasattr(msg, "channel"):
                events.append(Event(tick, 0.0, bytes(msg.bin())))
    return sorted(events, key=lambda e: e.frame)  # stable: each channel keeps its order


def note_streams(events: list[Event]) -> dict[int, list[tuple[str, int]]]:
    """Per channel, the note messages in order as ("on" | "off", pitch)."""
    streams: dict[int, list[tuple[str, int]]] = {}
    for e in events:
        msg = mido.Message.from_bytes(list(e.data))
        if msg.type in ("note_on", "note_off"):
            kind = "on" if msg.type == "note_on" and msg.velocity else "off"
            streams.setdefault(msg.channel, []).append((kind, msg.note))
    return streams
