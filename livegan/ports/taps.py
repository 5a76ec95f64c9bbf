"""Taps on the output port: everything sent is also recorded to a MIDI file (``--record``)
or played through FluidSynth (``--synth``), without the clock thread waiting for either."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import mido

from livegan.errors import UserError
from livegan.model.contract import ModelInfo
from livegan.music.smf import ONSET_TYPES, Layout, SmfBuilder, write_atomically
from livegan.threads import name_os_thread

log = logging.getLogger(__name__)


class Recorder:
    """Records the messages a port sends and keeps ``path`` a complete SMF while the take grows.

    Calling the recorder (the tap) only appends the message and the time it was sent to
    a list, so the clock thread never waits on the disk; a background thread writes the
    file every ``flush_seconds`` when something new arrived, and :meth:`close` writes
    the rest. Times count from bar 1's start, converted to ticks at the layout's tempo:
    the time ``origin_from()`` gives (when bar 1 was due, so a late first note does not
    shift the take off the grid), else when the first note, program change or Start
    was sent. Anything sent before that (the start-up All Notes Off) lands on tick 0.

    Raises a :class:`UserError` at once if ``path`` cannot be written.
    """

    def __init__(self, path: str | Path, layout: Layout, flush_seconds: float = 1.0,
                 clock: Callable[[], float] = time.perf_counter, background: bool = True,
                 origin_from: Callable[[], float | None] | None = None) -> None:
        self.path = Path(path)
        self.layout = layout
        self.flush_seconds = flush_seconds
        self.clock = clock
        self.builder = SmfBuilder(layout)
        self.origin: float | None = None
        self.origin_from = origin_from
        self.failed = False  # the last write failed (a full disk): the file on disk is behind
        self._pending: list[tuple[float, mido.Message]] = []
        self._lock = threading.Lock()  # guards _pending (taken by the sending thread)
        self._write_lock = threading.Lock()  # one writer at a time
        self._stop = threading.Event()
        try:
            self._write()
        except OSError as exc:
            raise UserError(f"cannot write the recording '{self.path}' ({exc.strerror or exc}): pick a writable path for --record") from None
        self._thread = threading.Thread(target=self._work, name="livegan-recorder", daemon=True)
        if background:
            self._thread.start()

    def __call__(self, msg: mido.Message) -> None:
        """The tap: remember ``msg`` and when it was sent. Cheap; never touches the disk."""
        with self._lock:
            self._pending.append((self.clock(), msg))

    def flush(self, final: bool = False) -> None:
        """Move what was sent into the file and write it; ``final`` also places messages sent before bar 1."""
        with self._write_lock:
            with self._lock:
                pending, self._pending = self._pending, []
            if self.origin is None:
                first = next((t for t, m in pending if m.type in ONSET_TYPES), None)
                if first is None and not final:
                    with self._lock:
                        self._pending[:0] = pending  # nothing musical yet: keep it for the next flush
                    return
                self.origin = self._origin(first) if first is not None else (pending[0][0] if pending else 0.0)
            for when, msg in pending:
                self.builder.add(self.layout.ticks(max(0.0, when - self.origin)), msg)
            if pending or final:
                self._write()

    def close(self) -> None:
        """Stop the writer thread and write the complete take (``failed`` says if that was impossible)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        try:
            self.flush(final=True)
        except OSError as exc:
            self.failed = True
            log.error("the take could not be completed in %s (%s): the file holds what was written before; "
                      "free some space and keep it", self.path, exc.strerror or exc)
            return
        log.info("recorded %s (%.1f bars)", self.path, self.builder.end / self.layout.bar_ticks)

    def _origin(self, first: float) -> float:
        """When bar 1 was due, if ``origin_from`` knows and it explains ``first`` (at most 1 s before it)."""
        due = self.origin_from() if self.origin_from is not None else None
        return due if due is not None and -0.001 <= first - due < 1.0 else first

    def _write(self) -> None:
        write_atomically(self.path, self.builder.to_bytes())

    def _work(self) -> None:
        """Flush every ``flush_seconds``; a full disk must not stop the music: say so once, retry quietly."""
        name_os_thread()
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except OSError as exc:
                if not self.failed:
                    log.warning("cannot write the recording %s (%s); the music goes on, and writing is retried "
                                "every %g s", self.path, exc.strerror or exc, self.flush_seconds)
                self.failed = True
            else:
                if self.failed:
                    log.info("the recording %s is being written again", self.path)
                self.failed = False


class Tap(Protocol):
    """Something that hears every message sent: called with each one, closed at the end."""

    def __call__(self, msg: mido.Message) -> None: ...

    def close(self) -> None: ...


class TapOutput(mido.ports.BaseOutput):
    """An output port that sends to ``port`` and then hands each message to every tap.

    A tap that raises is switched off with one warning (the music goes on); every tap
    is closed when the port closes, after the real port.
    """

    def __init__(self, port: mido.ports.BaseOutput, taps: Sequence[Tap]) -> None:
        self.port = port
        self.taps = list(taps)
        self._active = list(taps)
        super().__init__(port.name)

    @property
    def recorder(self) -> Recorder | None:
        """The recorder among the taps, if any."""
        return next((t for t in self.taps if isinstance(t, Recorder)), None)

    def _send(self, msg: mido.Message) -> None:
        self.port.send(msg)
        for tap in tuple(self._active):
            try:
                tap(msg)
            except Exception as exc:
                log.warning("%s failed (%s); it hears nothing more of this run", type(tap).__name__, exc)
                self._active.remove(tap)

    def unregister(self) -> None:
        """Take the wrapped port off the MIDI system before it closes (see :mod:`livegan.ports.midi`), if it can."""
        unregister = getattr(self.port, "unregister", None)
        if unregister is not None:
            unregister()

    def _close(self) -> None:
        try:
            self.port.close()
        finally:
            for tap in self.taps:
                try:
                    tap.close()
                except Exception as exc:
                    log.warning("closing %s failed: %s", type(tap).__name__, exc)


def tap_output(port: mido.ports.BaseOutput, info: ModelInfo, bpm: float, record: Path | None = None,
               synth: bool = False, soundfont: Path | None = None, api: str | None = None,
               origin_from: Callable[[], float | None] | None = None) -> mido.ports.BaseOutput:
    """Wrap ``port`` for ``livegan run --record FILE`` and ``--synth``; closes ``port`` if a tap cannot start.

    origin_from : when bar 1 was due (seconds, on the clock the recorder stamps with), for the take's tick 0.
    """
    taps: list[Tap] = []
    try:
        if record is not None:
            title = f"LiveGAN take at {bpm:g} BPM"
            taps.append(Recorder(record, Layout.for_model(info, bpm, title), origin_from=origin_from))
        if synth:
            from livegan.ports.synth import LiveSynth  # FluidSynth only when asked for

            taps.append(LiveSynth.open(soundfont, api))
    except BaseException:
        for tap in taps:
            tap.close()
        port.close()
        raise
    return TapOutput(port, taps) if taps else port
