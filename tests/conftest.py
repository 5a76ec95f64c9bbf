"""Shared pytest fixtures.

Real-port tests run against a private JACK server (``tests/jackkit.py``); unit
tests use fakes.  A test that asks for ``jack_server`` is marked ``jack``, so
``pytest -m "not jack"`` runs the rest.  Without ``jackd`` installed such a test
is skipped, with the reason, except under ``CI=true`` or
``LIVEGAN_REQUIRE_JACK=1`` (set by ``scripts/test``), where it fails: the
real-port tests must never be skipped silently.
"""

from __future__ import annotations

from typing import Callable, Iterator

import mido
import pytest
from daemonkit import Daemon
from jackkit import JackServer, MidiDump, ensure_jack_tools

REAL_TIME_MODULES = {"test_link.py", "test_benchmarks.py"}  # real clocks: a Link peer, the benchmarks' own jackd


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real JACK server with ``jack``.

    Those tests, and the Link ones, run real processes against real time on a shared
    2-core machine, where a starved cycle can make one run miss (a non-real-time dummy
    jackd stalls or drops a late client's cycle). They are retried twice; a behaviour
    that is wrong fails all three runs.
    """
    for item in items:
        real_jack = "jack_server" in getattr(item, "fixturenames", ())
        if real_jack:
            item.add_marker(pytest.mark.jack)
        if real_jack or item.path.name in REAL_TIME_MODULES:
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=2))


@pytest.fixture
def jack_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[JackServer]:
    """A fresh ``jackd -d dummy`` (48 kHz, 128-frame periods) under a unique name.

    It runs ``--sync`` (frames stay on the sender's grid), unless the test is marked
    ``jack_async``: tests that open and close dozens of clients and measure no timing.
    jackd 1.9.21 in sync mode can wedge for tens of seconds, or die, when clients
    come and go while a cycle is late (measured: 12 daemon starts and stops, 3 runs
    in 5 wedged, while ports were still polled with ``jack_lsp``; the harness now
    lists and connects through one long-lived client, see ``jackkit``); in its
    default asynchronous mode the same trials recover within seconds.

    The test process's environment points at it (``JACK_DEFAULT_SERVER``, and
    ``JACK_NO_START_SERVER=1``), so rtmidi ports opened in the test join it;
    use ``jack_server.env`` for subprocesses.  Stopped by pid after the test,
    pass or fail; its log is printed at teardown (pytest shows it on failure).
    """
    ensure_jack_tools()
    with JackServer(sync=request.node.get_closest_marker("jack_async") is None) as server:
        monkeypatch.setenv("JACK_DEFAULT_SERVER", server.name)
        monkeypatch.setenv("JACK_NO_START_SERVER", "1")
        try:
            yield server
        finally:
            print(f"--- jackd {server.name} (pid {server.pid}) log ---\n{server.log()}")


@pytest.fixture
def midi_dump(jack_server: JackServer) -> Iterator[Callable[..., MidiDump]]:
    """Factory: ``midi_dump(source=None, client=None, timeout=5.0) -> MidiDump`` on ``jack_server``.

    Every dump it starts is stopped after the test, before the server.
    """
    dumps: list[MidiDump] = []

    def start(source: str | None = None, client: str | None = None, timeout: float = 20.0) -> MidiDump:
        dump = MidiDump(jack_server, source, client, timeout)
        dumps.append(dump)
        return dump

    yield start
    for dump in dumps:
        dump.stop()


@pytest.fixture
def jack_output(jack_server: JackServer) -> Iterator[Callable[[str, str], mido.ports.BaseOutput]]:
    """Factory: ``jack_output(port, client) -> port``, an rtmidi virtual output on ``jack_server``.

    A test's own keyboard or DAW. Every port it opens is closed after the test, pass or
    fail, in the test's thread and before the server stops: an rtmidi port left to the
    garbage collector is closed on whatever thread happens to collect it, which can
    crash the whole test process.
    """
    opened: list[mido.ports.BaseOutput] = []
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")

    def open_port(port: str, client: str) -> mido.ports.BaseOutput:
        opened.append(backend.open_output(port, virtual=True, client_name=client))
        return opened[-1]

    yield open_port
    for port in opened:
        port.close()


# Model fixtures (tiny ONNX models from tests/onnx_models.py) go below.


@pytest.fixture
def daemon_factory(jack_server: JackServer) -> Iterator[Callable[..., Daemon]]:
    """Factory: ``daemon_factory(*run_args) -> Daemon``, ``livegan run --api jack`` on ``jack_server``.

    Torch is made unimportable in the daemon's process; every daemon is killed after the test.
    """
    started: list[Daemon] = []

    def start(*args: str) -> Daemon:
        started.append(Daemon(jack_server, *args))
        return started[-1]

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture(scope="session")
def infill_model(tmp_path_factory: pytest.TempPathFactory):
    """A tiny infill model (Coconet) trained 150 steps on held triads and exported: the path of its ONNX file."""
    from livegan.export.onnx import export_onnx
    from test_training_helpers import tiny_config, tiny_voice_dataset

    from livegan.training.loop.train import train

    folder = tmp_path_factory.mktemp("infill")
    config = tiny_config("coconet", steps=150, batch_size=8, lr_g=0.01, sample_every=1000, checkpoint_every=1000)
    last = train(tiny_voice_dataset(folder / "voices.npz"), config, folder / "run", progress=False)
    export_onnx(last, folder / "coconet.onnx")
    return folder / "coconet.onnx"


@pytest.fixture(scope="session")
def tiny_infill_info(infill_model):
    from livegan.model.engine import load_model

    return load_model(infill_model).info
