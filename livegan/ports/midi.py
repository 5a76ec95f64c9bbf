"""MIDI ports: rtmidi, chosen by API (the in-memory port is :mod:`livegan.ports.memory`).

Virtual ports (a port that LiveGAN creates and a DAW records from) exist under
ALSA, JACK and CoreMIDI, not under Windows' MultiMedia API: there, LiveGAN opens
an existing port by name prefix, typically one made with loopMIDI.

The API that runs is picked (:func:`pick_api`): on Linux, ALSA when its sequencer
exists, else JACK when a server answers (JACK alone, or PipeWire's JACK).

Output goes through mido's rtmidi backend. Input does not: mido would run a Python
callback on the driver's thread (JACK's process thread, which must never wait for the
interpreter lock). :class:`PolledInput` leaves the messages in rtmidi's own queue and
reads them from a thread of LiveGAN's every 2 ms, with their arrival times
rebuilt from rtmidi's time stamps.

Both close in two steps, ``unregister()`` (the port leaves the MIDI system; the client
stays) and ``close()`` (the client goes), so that ``livegan run`` can take its JACK
ports away one at a time while nothing else in the JACK graph changes (see
:func:`livegan.commands.run.close_ports`): libjack (JACK2's ``JackClient``) removes a
port from its client's port list on the caller's thread while the client's
notification thread may be walking that list for a latency callback, with no lock
between them, and a port removed at that moment crashes the process (SIGSEGV).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from functools import lru_cache

import mido

from livegan.errors import UserError
from livegan.threads import name_os_thread

APIS = {"jack": "UNIX_JACK", "alsa": "LINUX_ALSA", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}
API_NAMES = {"jack": "JACK", "alsa": "ALSA", "coremidi": "CoreMIDI", "winmm": "WinMM"}
VIRTUAL_APIS = {"jack", "alsa", "coremidi"}
CLIENT_NAME = "LiveGAN"  # JACK shows the ports as "LiveGAN:LiveGAN Out" and "LiveGAN-in:LiveGAN In"
INPUT_CLIENT_NAME = "LiveGAN-in"
ALSA_SEQUENCER = "/dev/snd/seq"
POLL_SECONDS = 0.002  # how often the input is read: a CC is handled within about 2 ms of its arrival. JACK hands
# input over once per period (2.7 ms at 128 frames); polling every 1 ms cost 2.6 % of a core, every 2 ms half of it
# (benchmarks/timing.py measured no difference in lateness)
INPUT_QUEUE = 4096  # messages rtmidi keeps between two reads (MIDI clock at 300 BPM is 120 a second)

log = logging.getLogger(__name__)


def default_api() -> str:
    """The MIDI API to use when none is asked for: :func:`pick_api`'s choice."""
    return pick_api()[0]


@lru_cache(maxsize=1)
def pick_api() -> tuple[str, str]:
    """(api, why): on Linux ALSA when its sequencer exists, else JACK when a server answers;
    CoreMIDI on macOS, WinMM on Windows. A :class:`UserError` naming both when Linux has neither."""
    if sys.platform == "darwin":
        return "coremidi", "macOS"
    if not sys.platform.startswith("linux"):
        return "winmm", "Windows"
    if os.path.exists(ALSA_SEQUENCER):
        return "alsa", f"the ALSA sequencer {ALSA_SEQUENCER} exists"
    if _jack_answers():
        return "jack", f"no ALSA sequencer ({ALSA_SEQUENCER}), and a JACK server answered"
    raise UserError(f"no MIDI system: no ALSA sequencer ({ALSA_SEQUENCER}: sudo modprobe snd-seq) and no JACK server "
                    "answering (start one, e.g. jackd -d dummy, or PipeWire's JACK); or pass --api")


def _jack_answers() -> bool:
    """Whether a JACK server answers, without starting one (rtmidi opens its clients with JackNoStartServer)."""
    import rtmidi

    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return False
    try:
        probe = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="LiveGAN-probe")
    except rtmidi.SystemError:  # "JACK server not running?"
        return False
    probe.delete()
    return True


def _rtapi(api: str) -> int:
    """rtmidi's number for ``api``; a UserError if unknown or not compiled into this python-rtmidi."""
    if api not in APIS:
        raise UserError(f"unknown MIDI API '{api}': use one of {', '.join(APIS)}")
    import rtmidi

    compiled = rtmidi.get_compiled_api()
    number = getattr(rtmidi, f"API_{APIS[api]}")
    if number not in compiled:
        names = ", ".join(sorted(rtmidi.get_api_name(a) for a in compiled)) or "none"
        raise UserError(f"MIDI API '{api}' is not available in this python-rtmidi build (it has: {names})")
    return number


def backend(api: str | None) -> mido.Backend:
    """mido's rtmidi backend bound to one API; a UserError if rtmidi lacks it here."""
    api = api or default_api()
    _rtapi(api)
    return mido.Backend(f"mido.backends.rtmidi/{APIS[api]}", load=True)


def list_ports(api: str | None) -> tuple[list[str], list[str]]:
    """(inputs, outputs) seen through ``api``; a UserError when the API's server is not running."""
    b = backend(api)
    try:
        return b.get_input_names(), b.get_output_names()
    except Exception as exc:  # rtmidi raises SystemError or its own errors when JACK/ALSA is absent
        raise UserError(f"cannot reach the MIDI system through '{api or default_api()}' ({exc}); is the server (JACK, ALSA) running?") from None


def _match(name: str, names: list[str]) -> str | None:
    """Exact name first, then the first port whose name starts with ``name`` (WinMM adds ' 1')."""
    if name in names:
        return name
    return next((n for n in names if n.startswith(name)), None)


def open_output(name: str, api: str | None, existing: bool = False) -> mido.ports.BaseOutput:
    """Create virtual output ``name`` (where the API can), or open an existing port by name prefix."""
    api = api or default_api()
    b = backend(api)
    output = _output_class()
    try:
        if not existing and api in VIRTUAL_APIS:
            return output(name, virtual=True, client_name=CLIENT_NAME, api=APIS[api])
        names = b.get_output_names()
        match = _match(name, names)
        if match is None:
            hint = " (Windows has no virtual ports: create one with loopMIDI and pass its name to --port)" if api == "winmm" else ""
            raise UserError(f"no MIDI output port named '{name}'{hint}; available: {', '.join(names) or 'none'}")
        return output(match, api=APIS[api])
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"cannot open MIDI output '{name}' through '{api}' ({exc}); is the server (JACK, ALSA) running?") from None


@lru_cache(maxsize=1)
def _output_class() -> type:
    """mido's rtmidi output port (what ``Backend.open_output`` makes), which can also leave the MIDI system
    before its client closes: ``unregister()``, then ``close()``."""
    from mido.backends.rtmidi import Output

    class RtmidiOutput(Output):
        def unregister(self) -> None:
            """Take the port off the MIDI system (JACK: unregister it); the client stays open until :meth:`close`,
            which then only closes the client. Sending in between goes nowhere."""
            with self._send_lock:
                self._rt.close_port()

    return RtmidiOutput


def open_input(name: str, api: str | None, on_message: Callable[[mido.Message, float], None],
               virtual: bool, priority: Callable[[], object] | None = None) -> PolledInput:
    """Open input ``name`` (virtual, or an existing port by prefix); ``on_message(msg, arrival)`` is
    called from LiveGAN's polling thread, ``arrival`` in :func:`time.perf_counter` seconds.

    priority : called first in the polling thread to set its scheduling (``livegan run``: real-time,
        below the clock thread, so that it is never preempted holding the interpreter lock).
    """
    api = api or default_api()
    rtapi = _rtapi(api)
    import rtmidi

    try:
        midi_in = rtmidi.MidiIn(rtapi=rtapi, name=INPUT_CLIENT_NAME, queue_size_limit=INPUT_QUEUE)
        if virtual:
            if api not in VIRTUAL_APIS:
                raise UserError(f"'{api}' has no virtual ports: create one with loopMIDI and pass its name to --in")
            midi_in.open_virtual_port(name)
            shown = name
        else:
            names = midi_in.get_ports()
            match = _match(name, names)
            if match is None:
                raise UserError(f"no MIDI input port named '{name}'; available: {', '.join(names) or 'none'}")
            midi_in.open_port(names.index(match))
            shown = match
    except UserError:
        raise
    except Exception as exc:  # rtmidi raises SystemError or its own errors when JACK/ALSA is absent
        raise UserError(f"cannot open MIDI input '{name}' through '{api}' ({exc}); is the server (JACK, ALSA) running?") from None
    midi_in.ignore_types(sysex=True, timing=False, active_sense=True)  # MIDI clock is needed to follow a DAW
    return PolledInput(midi_in, shown, on_message, priority=priority)


class PolledInput:
    """An rtmidi input read by a thread of LiveGAN's; no Python runs on the driver's thread.

    rtmidi queues each message with the time since the one before (its driver-side time
    stamp). Every ``interval`` seconds the thread drains the queue; a message's arrival
    is the previous arrival plus that delta, kept between the last read and this one (it
    arrived after the queue was last found empty and before now), so clock ticks keep
    their spacing to well under a millisecond and never drift from :func:`time.perf_counter`.
    """

    def __init__(self, midi_in, name: str, on_message: Callable[[mido.Message, float], None],
                 interval: float = POLL_SECONDS, clock: Callable[[], float] = time.perf_counter,
                 priority: Callable[[], object] | None = None) -> None:
        self.name = name
        self.priority = priority
        self.on_message = on_message
        self.interval = interval
        self.clock = clock
        self._in = midi_in
        self._stopped = False
        self._unregistered = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="livegan-input", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        name_os_thread()
        if self.priority is not None:
            self.priority()
        last_read = previous = self.clock()
        while not self._stopped:
            now = self.clock()
            while (item := self._in.get_message()) is not None:
                data, delta = item
                previous = min(max(previous + delta, last_read), now)
                self._deliver(data, previous)
            last_read = now
            time.sleep(self.interval)

    def _deliver(self, data: list[int], arrival: float) -> None:
        try:
            msg = mido.Message.from_bytes(data)
        except ValueError as exc:  # a message rtmidi passed but mido cannot parse: say so, go on
            log.debug("input %s: ignored %s (%s)", self.name, bytes(data).hex(" "), exc)
            return
        try:
            self.on_message(msg, arrival)
        except Exception:  # the session records and never raises; if it did, the input must live on
            log.exception("input %s: handling %s failed", self.name, msg)

    @property
    def closed(self) -> bool:
        return self._closed

    def stop(self) -> None:
        """Stop reading: the polling thread ends (waited for, unless this is it). The port stays open."""
        self._stopped = True
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)

    def unregister(self) -> None:
        """Stop reading, and take the port off the MIDI system (JACK: unregister it); the client stays open
        until :meth:`close`."""
        self.stop()
        if not self._unregistered:
            self._unregistered = True
            self._in.close_port()

    def close(self) -> None:
        """Stop reading, then close the port and its client (never from the polling thread itself)."""
        if self._closed:
            return
        self.unregister()
        self._closed = True
        self._in.delete()
