"""A small harness for tests that need a real JACK server.

``JackServer`` runs a private ``jackd`` on the dummy driver (no sound card, no
realtime privileges) under a name unique to this test run, so tests never touch
a user's server and never collide with each other.  ``MidiDump`` records what
arrives at a JACK MIDI port with ``jack_record.py`` (a JACK client like
``jack_midi_dump -a``, without its silent loss), stamped in frames of the
server's clock, so a test can check both the bytes and their spacing.

Ports are listed and connected through one JACK client that the harness keeps open
for the server's life (``JackServer.control``, never activated), not with ``jack_lsp``
and ``jack_connect``: each run of those opens, activates and closes a client, and
jackd 1.9.21 (non-realtime, ``--sync``) can leave a client that activates at the
same moment without its first cycle, wedging the graph for a minute (measured: a
daemon started while ``jack_lsp`` polled every 20 ms, on a loaded machine, lost
all its input in 3 trials of 9; with one long-lived client, 0 of 12).

Every process started here is stopped by its own process id: by ``stop()``, by
the pytest fixtures in ``conftest.py``, by an ``atexit`` hook if a test run is
interrupted, and (Linux) by the kernel if the Python process dies outright.

Times are in seconds unless a name says frames; one frame is
``1 / sample_rate`` seconds.
"""

from __future__ import annotations

import atexit
import ctypes
import glob
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterable, Iterator, Mapping

import mido
import pytest

if TYPE_CHECKING:
    import jack

SAMPLE_RATE = 48_000
"""Default sample rate of the test server, in Hz."""

PERIOD = 128
"""Default period in frames (2.67 ms at 48 kHz); shorter ones drift on the dummy driver."""

REQUIRED_TOOLS = ("jackd", "jack_lsp")
"""Executables the harness runs (Debian package ``jackd2``)."""

LOST_CYCLE_LINES = ("was not finished", "Process error", "SuspendRefNum error", "ClientCloseAux wait error")
"""What jackd logs when it lost or postponed cycles, and with them a client's MIDI."""

XRUN_BLAME = re.compile(r"JackEngine::XRun: client (?:= )?(.+?) (?:was not finished|finished after current callback)")
"""What jackd (1.9.21) logs when it blames a client for an xrun: the client had not finished its
cycle when the next one began, or finished after it began."""

DRIVER_XRUN = "JackTimedDriver::Process XRun"
"""What the dummy driver logs when its own thread woke late for a cycle (no client blamed)."""

_names = itertools.count()
_live: set[subprocess.Popen] = set()
_libc = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def missing_tools() -> list[str]:
    """Return the JACK executables in ``REQUIRED_TOOLS`` not found on ``PATH``."""
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def jack_required(environ: Mapping[str, str] = os.environ) -> bool:
    """True when a missing JACK must fail tests, not skip them: ``CI=true`` or ``LIVEGAN_REQUIRE_JACK=1``."""
    ci = environ.get("CI", "").strip().lower() in ("true", "1", "yes")
    return ci or environ.get("LIVEGAN_REQUIRE_JACK", "").strip() not in ("", "0")


def ensure_jack_tools() -> None:
    """Skip the calling test if JACK's tools are missing, or fail it if ``jack_required()``."""
    missing = missing_tools()
    if not missing:
        return
    reason = f"real-JACK test needs {', '.join(missing)} on PATH (Debian: apt-get install jackd2)"
    if jack_required():
        pytest.fail(f"{reason}; not skipping because CI=true or LIVEGAN_REQUIRE_JACK=1", pytrace=False)
    pytest.skip(f"{reason}; set LIVEGAN_REQUIRE_JACK=1 to make this a failure")


def unique_server_name() -> str:
    """Return a server name unique to this process and call: ``livegan-test-<pid>-<n>``."""
    return f"livegan-test-{os.getpid()}-{next(_names)}"


def pid_alive(pid: int) -> bool:
    """Return True if a process with this id exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the test process dies (no-op elsewhere)."""
    PR_SET_PDEATHSIG = 1
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(args: list[str], env: dict[str, str], stdout: IO[bytes] | int, text: bool = False) -> subprocess.Popen:
    """Start ``args`` with ``env``; remember it so ``_stop_all`` can reap it."""
    proc = subprocess.Popen(
        args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=text,
        preexec_fn=die_with_parent,
    )
    _live.add(proc)
    return proc


def _terminate(proc: subprocess.Popen, first: signal.Signals, timeout: float = 3.0) -> None:
    """Send ``first`` to the process by its id, then SIGKILL if it outlives ``timeout``; reap it."""
    for sig, wait in ((first, timeout), (signal.SIGKILL, timeout)):
        if proc.poll() is not None:
            break
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    _live.discard(proc)


@atexit.register
def _stop_all() -> None:
    """Last resort when a run is interrupted: stop every process still running, by id."""
    for proc in list(_live):
        _terminate(proc, signal.SIGTERM, timeout=1.0)


def blamed_clients(log: str) -> dict[str, int]:
    """How many xruns ``jackd``'s ``log`` blames on each client, by client name (``XRUN_BLAME``)."""
    counts: dict[str, int] = {}
    for match in XRUN_BLAME.finditer(log):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


def running_jack_servers() -> set[str]:
    """Names of the JACK servers whose ``jackd`` process is running (read from /proc)."""
    names = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and Path(args[0].decode(errors="replace")).name in ("jackd", "jackdmp") and b"-n" in args:
            names.add(args[args.index(b"-n") + 1].decode(errors="replace"))
    return names


def registered_servers(prefix: str = "livegan-test-", registry: Path = Path("/dev/shm/jack-shm-registry")) -> set[str]:
    """Names starting with ``prefix`` in JACK's server registry, live or stale.

    The registry's server table holds ``jack-<uid>:<name>:`` strings; an entry stays
    there after its jackd was killed, until a server of that name starts again.
    """
    try:
        data = registry.read_bytes()
    except OSError:
        return set()
    pattern = re.compile(rb"jack-\d+:(" + re.escape(prefix.encode()) + rb"[\w.-]*):")
    return {m.group(1).decode() for m in pattern.finditer(data)}


def reclaim_stale_servers(prefix: str = "livegan-test-") -> list[str]:
    """Free the registry slots of our test servers that died without cleaning up.

    JACK has 8 server slots; one whose jackd was killed (SIGKILL, a crashed run) is
    freed only when a server of the same name starts and stops cleanly. Only names
    with ``prefix`` whose jackd is not running are touched, so no user's server is.
    """
    running = running_jack_servers()
    reclaimed = []
    for name in sorted(registered_servers(prefix) - running):
        shm = Path("/dev/shm") / f"jack_{name}_0_0"
        env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(SAMPLE_RATE), "-p",
                                 str(PERIOD)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            if subprocess.run(["jack_lsp"], env=env, capture_output=True, timeout=10).returncode == 0:
                break
            time.sleep(0.05)
        _terminate(proc, signal.SIGTERM, timeout=5.0)
        shm.unlink(missing_ok=True)
        reclaimed.append(name)
    return reclaimed


class JackServer:
    """A private ``jackd`` on the dummy driver, for the life of one test.

    It runs without realtime priority (no privileges needed), so a busy
    machine makes clients miss their cycle (an xrun, see ``xruns()``).  In
    JACK's default asynchronous mode the MIDI of a late client is dropped; in
    ``--sync`` mode (the default here) the server waits for it instead, so no
    event is lost but the server's frame clock falls behind wall time.

    Parameters
    ----------
    name : str, optional
        Server name; default ``unique_server_name()``.
    sample_rate : int
        Frames per second.
    period : int
        Frames per period; MIDI events land on period boundaries.
    sync : bool
        Run ``jackd --sync``: never drop MIDI of a late client.
    start_timeout : float
        Seconds to wait for the server to answer.

    Examples
    --------
    >>> with JackServer() as jack:                           # doctest: +SKIP
    ...     jack.wait_for_port("livegan:LiveGAN Out")
    """

    def __init__(self, name: str | None = None, sample_rate: int = SAMPLE_RATE,
                 period: int = PERIOD, sync: bool = True, start_timeout: float = 10.0, realtime: bool = False) -> None:
        self.name = name or unique_server_name()
        self.sample_rate = sample_rate
        self.period = period
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER="1")
        if self._answers():
            raise RuntimeError(f"a JACK server named {self.name!r} is already running")
        reclaim_stale_servers()
        self._log = tempfile.TemporaryFile()
        self._final_log: str | None = None
        self._proc = _spawn(
            ["jackd", "-n", self.name, "--realtime" if realtime else "--no-realtime", *(["--sync"] if sync else []), "-d", "dummy",
             "-r", str(sample_rate), "-p", str(period)],
            self.env, self._log)
        self._control: jack.Client | None = None
        self._control_lost = threading.Event()
        try:
            self._wait_until_up(start_timeout)
            import jack  # JACK-Client (the ``test`` extra); here, so that importing jackkit needs no libjack

            self._control = jack.Client(f"jackkit-{os.getpid()}", no_start_server=True, servername=self.name)
            self._control.set_shutdown_callback(lambda status, reason: self._control_lost.set())
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """Process id of ``jackd``."""
        return self._proc.pid

    @property
    def period_seconds(self) -> float:
        """Length of one period in seconds."""
        return self.period / self.sample_rate

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._answers() or self._proc.poll() is not None:
            if self._proc.poll() is not None:
                raise RuntimeError(f"jackd {self.name!r} exited with {self._proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"jackd {self.name!r} did not answer within {timeout} s:\n{self.log()}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        return self._run("jack_lsp").returncode == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=30)  # a --sync server may stall 5 s on a slow client

    def log(self) -> str:
        """Return what ``jackd`` has printed so far (stdout and stderr)."""
        if self._final_log is not None:
            return self._final_log
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def reported_lost_cycles(self) -> bool:
        """True if ``jackd`` logged a skipped or stalled cycle, in which a client's MIDI can be lost."""
        log = self.log()
        return any(line in log for line in LOST_CYCLE_LINES)

    def xruns(self) -> int:
        """Return how many xrun reports ``jackd`` has logged (a late cycle or a late client)."""
        return sum("XRun" in line for line in self.log().splitlines())

    def blamed(self, since: int = 0) -> dict[str, int]:
        """Xruns ``jackd`` blamed on each client, in its log from character ``since`` on (``len(self.log())``
        taken earlier marks a moment), plus ``"(driver)"``: cycles its own thread began late."""
        log = self.log()[since:]
        return {**blamed_clients(log), "(driver)": log.count(DRIVER_XRUN)}

    @property
    def control(self) -> jack.Client:
        """The harness's own JACK client on this server (inactive: it lists and connects ports)."""
        if self._control is None or self._control_lost.is_set():
            raise RuntimeError(f"JACK server {self.name!r} is stopped or gone")
        return self._control

    def ports(self, midi_only: bool = False) -> list[str]:
        """Return the full names (``client:port``) of all ports, or of MIDI ports only."""
        return [port.name for port in self.control.get_ports(is_midi=midi_only)]

    def wait_for_port(self, name: str, timeout: float = 20.0) -> None:
        """Block until port ``name`` (``client:port``) exists; raise TimeoutError with the ports seen."""
        deadline = time.monotonic() + timeout
        while name not in (ports := self.ports()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no JACK port {name!r} after {timeout} s; ports: {ports}")
            time.sleep(0.02)

    def wait_for_port_gone(self, name: str, timeout: float = 20.0) -> None:
        """Block until port ``name`` no longer exists (its client finished closing); raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while name in self.ports():
            if time.monotonic() > deadline:
                raise TimeoutError(f"JACK port {name!r} still there after {timeout} s")
            time.sleep(0.02)

    def connect(self, src: str, dst: str, timeout: float = 20.0) -> None:
        """Connect output port ``src`` to input port ``dst``, waiting up to ``timeout`` s for both."""
        self.wait_for_port(src, timeout)
        self.wait_for_port(dst, timeout)
        try:
            self.control.connect(src, dst)
        except Exception as exc:  # jack.JackError
            raise RuntimeError(f"connecting {src!r} to {dst!r} failed: {exc}") from None

    def stop(self) -> None:
        """Stop ``jackd`` by its process id, wait for it, and remove its semaphore files."""
        control, self._control = self._control, None
        if control is not None and not self._control_lost.is_set():
            control.close()  # first: closing a client after its server died can deadlock in libjack
        _terminate(self._proc, signal.SIGTERM)
        if self._final_log is None:
            self._final_log = self.log()
            self._log.close()
        for path in glob.glob(f"/dev/shm/jack_sem.{os.getuid()}_{glob.escape(self.name)}_*"):
            try:
                os.remove(path)
            except OSError:
                pass

    def __enter__(self) -> JackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Event:
    """One MIDI event as recorded by ``jack_midi_dump``.

    Attributes
    ----------
    frame : int
        Frames since the dump client started (server clock).
    time : float
        ``frame / sample_rate``, in seconds.
    data : bytes
        The raw MIDI bytes, status byte first.
    """

    frame: int
    time: float
    data: bytes


_EVENT_LINE = re.compile(r"^\s*(\d+):((?: [0-9a-fA-F]{1,2}(?= |$))+)")


def parse_event_line(line: str, sample_rate: int) -> Event | None:
    """Parse one ``jack_midi_dump -a`` line such as ``  34816: 90 3c 64 note on ...``.

    Returns None for lines that are not events ("Shutting down", errors).
    """
    match = _EVENT_LINE.match(line)
    if match is None:
        return None
    frame = int(match.group(1))
    data = bytes(int(byte, 16) for byte in match.group(2).split())
    return Event(frame, frame / sample_rate, data)


def to_messages(events: Iterable[Event]) -> list[mido.Message]:
    """Turn events into mido Messages whose ``.time`` is the event's absolute time in seconds."""
    return [mido.Message.from_bytes(event.data, time=event.time) for event in events]


class CMonitor:
    """``jack_midi_dump`` (Debian's jackd2 example client, in C): a plain JACK MIDI input to compare
    other clients with. Its port is ``<client>:input``; what it prints goes to a file, read at :meth:`stop`."""

    def __init__(self, server: JackServer, client: str = "jack_midi_dump", timeout: float = 20.0) -> None:
        self.server = server
        self.client = client
        self.port = f"{client}:input"
        self._out = tempfile.TemporaryFile()
        self._proc = _spawn(["jack_midi_dump", "-a", client], server.env, self._out)
        try:
            server.wait_for_port(self.port, timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> list[Event]:
        """Stop it by its process id (SIGINT: it closes its client) and return the events it printed."""
        _terminate(self._proc, signal.SIGINT)
        if self._out.closed:
            return []
        self._out.seek(0)
        lines = self._out.read().decode(errors="replace").splitlines()
        self._out.close()
        return [e for e in (parse_event_line(line, self.server.sample_rate) for line in lines) if e is not None]


RECORDER = Path(__file__).with_name("jack_record.py")
"""The recording client: a Python JACK client (JACK-Client) with an unbounded queue.

``jack_midi_dump`` loses events silently: its ring buffer holds 127 messages, so a
period with more (measured: 200 sent in one period, 127 recorded, at 128 and at 1024
frames per period) or a printing thread starved on a loaded machine drops the rest.
A JACK server that stalls for seconds under load and then delivers the backlog in one
period does exactly that, and the test would blame the daemon.
"""


class MidiDump:
    """Record the MIDI arriving at one JACK port with ``jack_record.py`` (``RECORDER``).

    Parameters
    ----------
    server : JackServer
        The server to record on.
    source : str, optional
        Output port to connect (``client:port``); connect later with ``server.connect``.
    client : str, optional
        Name of the dump's JACK client; its port is ``<client>:input``.
    timeout : float
        Seconds to wait for the dump's port and for ``source``.
    """

    def __init__(self, server: JackServer, source: str | None = None,
                 client: str | None = None, timeout: float = 20.0) -> None:
        self.server = server
        self.client = client or f"dump{next(_names)}"
        self.port = f"{self.client}:input"
        self._events: list[Event] = []
        self._other: list[str] = []
        self._arrived = threading.Condition()
        self._ready = threading.Event()  # set when the client's process callback has run once
        self._proc = _spawn([sys.executable, str(RECORDER), self.client], server.env, subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,),
                                        name=f"MidiDump {self.client}", daemon=True)
        self._reader.start()
        try:
            if not self._ready.wait(timeout):
                raise TimeoutError(f"recording client {self.client!r} did not run within {timeout} s; "
                                   f"it printed: {self.output()}")
            if source is not None:
                server.connect(source, self.port, timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """Process id of the recording client."""
        return self._proc.pid

    def _read(self, stream: Iterator[str]) -> None:
        for line in stream:
            event = parse_event_line(line, self.server.sample_rate)
            with self._arrived:
                if event is None and line.strip() == "Ready":
                    self._ready.set()
                elif event is None:
                    self._other.append(line.rstrip("\n"))
                else:
                    self._events.append(event)
                self._arrived.notify_all()

    def events(self) -> list[Event]:
        """Return a copy of the events recorded so far, in arrival order."""
        with self._arrived:
            return list(self._events)

    def output(self) -> list[str]:
        """Return the lines the dump printed that were not events (for failure messages)."""
        with self._arrived:
            return list(self._other)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Event]:
        """Block until at least ``count`` events arrived or ``timeout`` s passed; return them all."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self._events) >= count, timeout)
            return list(self._events)

    def stop(self) -> list[Event]:
        """Stop the recording client by its process id (SIGINT, so it closes its client), read
        everything it printed, and return all events."""
        _terminate(self._proc, signal.SIGINT)
        self._reader.join(timeout=5.0)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        return self.events()

    def __enter__(self) -> MidiDump:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
