"""Generation in a worker process, so that making bars never holds what the clock thread needs.

In one process, the composer thread's Python (guidance, roll -> notes -> performance) holds
the interpreter lock the clock thread needs at each deadline. :class:`ProcessRuntime` keeps
only the bookkeeping in the daemon: each ``make`` is sent over a pipe to a process of its own
(started with ``spawn``: no JACK client, no threads inherited), which loads the same ONNX
file and runs the same runtime (:mod:`livegan.generation.runtimes`), and sends the finished
bars back. While it works, the composer thread waits in the pipe, without the lock.

The worker ignores SIGINT (Ctrl-C reaches the daemon, which stops it), exits when its pipe
closes (the daemon stopped or died), and a worker that dies is an error the composer hands
to the clock thread, which releases every note and stops.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livegan.generation.bar import Cancelled, Generator, Morph
from livegan.generation.infill import played_cells
from livegan.generation.runtimes import Made, Runtime, StepContexts, Stop, keep_phrase

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds for the worker to load its model (about 0.5 s here)
STOP_POLL = 0.02  # seconds between the daemon's looks at whether the bar being made is still wanted


@dataclass(frozen=True)
class WorkerSpec:
    """How the worker loads the model the daemon loaded (picklable)."""

    model: Path
    device: str = "cpu"
    threads: int = 1
    temperature: float | None = None  # a step or infill model's sampling temperature, if the user set one
    iterations: int | None = None  # an infill model's Gibbs passes per bar, if the user set them


@dataclass(frozen=True)
class _Composing:
    """The composing options the runtime is built with, as :func:`~livegan.generation.composer.make_composer` takes them."""

    seed: int | None
    latent_step: float
    threshold: float | None
    guide: int


class WorkerDied(RuntimeError):
    """The worker process is gone (killed, or out of memory)."""


class ProcessRuntime:
    """A :class:`~livegan.generation.runtimes.Runtime` whose bars are made in a worker process.

    The step model's contexts stay here (:class:`~livegan.generation.runtimes.StepContexts`):
    each request carries the context the bar continues, so the worker keeps no state.

    An infill model's first bar is made here, with the model the daemon loaded, while the worker
    process starts (it takes ~0.3 s to load its own): the first note comes that much sooner. Nothing
    plays yet then, so the clock has nothing to wait for; every later bar is the worker's.
    """

    def __init__(self, spec: WorkerSpec, generator: Generator, *, seed: int | None = None, latent_step: float = 0.35,
                 threshold: float | None = None, guide: int = 1) -> None:
        self.spec = spec
        self.info = generator.info
        self._local: Runtime | None = None
        if self.info.runtime == "infill":  # one seed for the bar made here and the worker's
            seed = int(np.random.default_rng().integers(2**31)) if seed is None else seed
            self._local = _runtime(generator, _Composing(seed, latent_step, threshold, guide))
        composing = _Composing(seed, latent_step, threshold, guide)
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(spec, composing, child), name="livegan-worker", daemon=True)
        self._process.start()
        child.close()
        self._contexts: StepContexts | None = None
        self._ready = False

    def make(self, index: int, morph: Morph, budget: float | None = None, stop: Stop | None = None,
             keep: int = 0) -> Made:
        if index == 0 and not self._ready and self._local is not None and not self._conn.poll():
            if self._contexts is None:
                self._contexts = StepContexts(self._local.opening)
            return self._local.make_after(index, morph, self._contexts.before(index), budget, stop)
        self._wait_ready()
        context = self._contexts.before(index) if self._contexts is not None else None
        played = None
        if keep and self._local is not None:  # an infill model: the steps played are kept, as in one process
            played = played_cells(self._contexts.after(index), keep, self.info.steps_per_bar)
        try:
            self._conn.send(("make", index, morph, context, budget, played))
        except OSError:  # BrokenPipeError, ConnectionResetError: the worker is gone
            raise WorkerDied(self._died()) from None
        kind, value = self._receive(timeout=None, stop=stop)
        if kind == "error":
            raise RuntimeError(f"the generation worker failed: {value}")
        if kind == "cancelled":
            raise Cancelled
        return value

    def keep(self, bars: dict, made: Made, low: int) -> list[int]:
        if self._contexts is not None:
            return self._contexts.keep(bars, made, low)
        return keep_phrase(bars, made, low)

    def shift(self, after: int, offset: int) -> None:
        if self._contexts is not None:
            self._contexts.shift(after, offset)

    def close(self) -> None:
        """Ask the worker to stop, then make sure it has (never leaves a process behind)."""
        try:
            self._conn.send(None)
        except (OSError, ValueError):  # its end is gone already
            pass
        self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=2.0)
        self._conn.close()

    def _wait_ready(self) -> None:
        if self._ready:
            return
        kind, value = self._receive(timeout=START_TIMEOUT)
        if kind == "error":
            raise RuntimeError(f"the generation worker could not start: {value}")
        self._ready = True
        if value is not None and self._contexts is None:  # a step or infill model: the context before bar 0
            self._contexts = StepContexts(value)

    def _receive(self, timeout: float | None, stop: Stop | None = None) -> tuple[str, Any]:
        """The worker's next reply; waits in the pipe (no interpreter lock held) and notices a dead worker.

        stop : asked every ``stop.every`` (:class:`~livegan.generation.runtimes.StopWhen`) or :data:`STOP_POLL`
            seconds while waiting; once True, the worker is asked to abandon the bar (it answers ``cancelled`` at
            its next pass, or the bar if it was done).
        """
        waited, poll, asked = 0.0, (0.25 if stop is None else getattr(stop, "every", STOP_POLL)), False
        try:
            while not self._conn.poll(poll):
                waited += poll
                if stop is not None and not asked and stop():
                    self._conn.send(("cancel",))
                    asked = True
                if not self._process.is_alive():
                    raise WorkerDied(self._died())
                if timeout is not None and waited >= timeout:
                    raise WorkerDied(f"the generation worker did not answer within {timeout:.0f} s")
            return self._conn.recv()
        except (EOFError, OSError):  # a killed worker's pipe ends, or is reset mid-message (ConnectionResetError)
            raise WorkerDied(self._died()) from None

    def _died(self) -> str:
        self._process.join(timeout=1.0)  # its exit code, once the kernel has it
        return f"the generation worker died (exit code {self._process.exitcode})"


def serve(spec: WorkerSpec, composing: _Composing, conn) -> None:
    """The worker process: build the runtime, then make bars until the pipe says stop or closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the daemon's to handle; it stops us
    try:
        runtime = _build(spec, composing)
    except Exception as exc:  # reported to the daemon, which stops with it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", runtime.opening))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the daemon is gone
            return
        if request is None:
            return
        if request[0] == "cancel":  # for a bar already answered (made, or abandoned)
            continue
        _, index, morph, context, budget, played = request
        try:  # any message waiting while a bar is made is a cancel (or stop): the daemon waits for the bar
            if played is not None:
                made = runtime.make_after(index, morph, context, budget, stop=conn.poll, played=played)
            elif context is not None:
                made = runtime.make_after(index, morph, context, budget, stop=conn.poll)
            else:
                made = runtime.make(index, morph, budget, stop=conn.poll)
            reply = ("made", made)
        except Cancelled:
            reply = ("cancelled", None)
        except Exception as exc:  # the daemon raises it on its clock thread, which releases the notes
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def _build(spec: WorkerSpec, composing: _Composing) -> Runtime:
    from livegan.model.engine import load_model, set_iterations, set_temperature

    generator = load_model(spec.model, device=spec.device, threads=spec.threads)
    if spec.temperature is not None:
        set_temperature(generator, spec.temperature)
    if spec.iterations is not None:
        set_iterations(generator, spec.iterations)
    generator.warm_up()
    return _runtime(generator, composing)


def _runtime(generator: Generator, composing: _Composing) -> Runtime:
    """The runtime ``make_composer`` would build in one process, with these options."""
    from livegan.generation.guide import MoodGuide
    from livegan.generation.latent import LatentWalk
    from livegan.generation.runtimes import runtime_for

    walk = LatentWalk(generator.latents, seed=composing.seed, step=composing.latent_step)
    guide = MoodGuide(generator.info, composing.guide, seed=composing.seed) if composing.guide > 1 else None
    return runtime_for(generator, walk=walk, guide=guide, threshold=composing.threshold, seed=composing.seed)
