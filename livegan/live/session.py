"""A live session: the layers wired together, with their collaborators passed in.

``livegan run`` builds the real parts (ONNX engine, rtmidi ports, monotonic clock)
and hands them to :class:`LiveSession`; tests hand it fakes (a memory port, a fake
clock) and the same code runs.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import mido

from livegan.generation.bar import Generator
from livegan.generation.composer import make_composer
from livegan.generation.worker import WorkerSpec
from livegan.mood.controls import ControlMap, ControlState, resolve_mood
from livegan.live.play import PlayAlong
from livegan.mood.player import PlayerState
from livegan.mood.presets import Mood
from livegan.ports.tracker import NoteTracker
from livegan.timing.clock import Clock, Rehearsed, try_realtime
from livegan.timing.sequencer import BarStarted, Lateness, Sequencer
from livegan.timing.transport import InternalTransport, MidiClockFollower

log = logging.getLogger(__name__)

CLOCK_PRIORITY, COMPOSER_PRIORITY = 10, 5  # SCHED_FIFO priorities of the clock and composer threads
PLAYER_POLL_SECONDS = 0.02  # how often the composer looks at what the player holds, when following the player
REALTIME_TYPES = frozenset({"clock", "start", "continue", "stop", "songpos"})


@dataclass(frozen=True)
class SessionOptions:
    bpm: float = 120.0
    lookahead: int = 2
    seed: int | None = None
    latent_step: float = 0.35
    threshold: float | None = None
    guide: int = 1  # candidate phrases per phrase for mood guidance (livegan.generation.guide); 1 = off (the CLI passes 8)
    start_mood: int = 0
    preroll: float = 0.1  # seconds between "ready" and bar 1, so bar 1's first events are not late
    ready_timeout: float = 30.0
    background: bool = True  # False: generate synchronously (simulations on a FakeClock)
    clock: str = "internal"  # "external": follow MIDI clock from the input; "link": an Ableton Link session
    send_clock: bool = False  # send MIDI clock, Start and Stop (internal clock only)
    switch: str = "bar"  # mood changes land at the next "bar" or "beat"
    morph_bars: int = 0  # mood changes glide over this many bars
    realtime: bool = False  # SCHED_FIFO for the clock thread, set once every other thread has started
    follow: str | None = None  # "chords", "melody" or "respond": the notes played on the input steer the voices
    play_channel: int | None = None  # the input channel (0-15) played on; None: any
    thru: bool = False  # pass the notes played on to the output
    response_bars: int | None = None  # "respond": bars of each answer (None: as long as the call)
    bar_seconds: float = 0.5  # how long the model takes to make a bar (an answer starts at a bar line that leaves time)


class LiveSession:
    """Generator + presets + controls + output port + clock -> music, until stopped.

    worker : make the bars in a worker process that loads the model so (``livegan run`` does);
        None makes them in this process (tests with fakes, simulations).
    """

    def __init__(self, generator: Generator, presets: list[Mood], controls: ControlMap, port: mido.ports.BaseOutput,
                 clock: Clock, options: SessionOptions = SessionOptions(),
                 on_bar: Callable[[BarStarted], None] | None = None, worker: WorkerSpec | None = None) -> None:
        if options.clock not in ("internal", "external", "link"):
            raise ValueError(f"clock must be 'internal', 'external' or 'link', got {options.clock!r}")
        self.info = generator.info
        self.presets = presets
        self.state = ControlState(controls, len(presets), preset=options.start_mood)
        self.player = PlayerState(options.play_channel) if options.follow else None
        self._frozen = False
        if options.background:  # playing in real time: the send path is rehearsed through the spin before each deadline
            clock = Rehearsed(clock, self._rehearse)
        self.clock = clock
        self.options = options
        self.tracker = NoteTracker(port)
        self._scratch, self._scratch_lateness = NoteTracker(_Nowhere()), Lateness()
        self.composer = make_composer(generator, mood_now=self.mood_now, seed=options.seed, latent_step=options.latent_step,
                                      threshold=options.threshold, guide=options.guide, lookahead=options.lookahead,
                                      morph_bars=options.morph_bars, include_current=options.switch == "beat",
                                      background=options.background, worker=worker,
                                      priority=self._composer_priority if options.realtime and worker else None,
                                      due=self.seconds_until, played=self.steps_played)
        if options.clock == "external":
            self.transport = MidiClockFollower(clock, self.info.steps_per_beat)
        elif options.clock == "link":
            from livegan.timing.link import LinkTransport

            self.transport = LinkTransport(clock, options.bpm, self.info.steps_per_beat, self.info.beats_per_bar)
        else:
            self.transport = InternalTransport(clock, options.bpm, self.info.steps_per_beat)
        send_clock = options.send_clock and options.clock == "internal"
        self.sequencer = Sequencer(self.composer, tracker=self.tracker, transport=self.transport, info=self.info,
                                   on_bar=on_bar, switch=options.switch, send_clock=send_clock, muted=self.muted_now)
        self.play = None
        self._panics = 0
        if self.player is not None:
            self.composer.idle_wait = PLAYER_POLL_SECONDS  # a chord settles and a phrase ends without a message
            self.composer.steered_by_time = True
            self.play = PlayAlong(options.follow, self.player, self.info, lambda: self.sequencer.playhead, clock.now,
                                  options.bar_seconds, options.response_bars)

    def _rehearse(self) -> None:
        """The clock thread's path from a deadline to a sent note, over and over while it spins (see
        :class:`Rehearsed`): a note on a tracker and port of its own (nothing reaches the session's port),
        then the notes that go next on the real tracker, unsent. Their code and data are hot when the
        real notes go (measured: the first note after a wait took 30-70 us, the next ones 5-10 us, and
        on this VM memory untouched for a bar could take 0.1-0.5 ms more)."""
        self._scratch.note_on(0, 60, 1, None)
        self._scratch.note_off(0, 60, None)
        self._scratch_lateness.record(self.transport.now() - self.transport.time_of(0.0))
        self.sequencer.rehearse()

    @staticmethod
    def _composer_priority() -> None:
        """Real-time, below the clock thread: the composer thread holds the lock only briefly (the worker
        process does the work), and must not be preempted holding it by the machine's other load."""
        try_realtime(COMPOSER_PRIORITY)

    def mood_now(self) -> tuple[object, Mood]:
        """(version, mood) the controls, and the notes played (``follow``), ask for now: a pure function of what was
        recorded (and of the time, for a chord settling or a phrase ending)."""
        recorded = self.state.snapshot()
        mood = resolve_mood(recorded, self.presets)
        if self.play is None:
            return recorded.version, mood
        played, changes = self.play.steer()
        return (recorded.version, played), replace(mood, **changes)

    def seconds_until(self, index: int) -> float | None:
        """Seconds from now until bar ``index`` is wanted: its start, or, for the bar playing (``--switch beat``
        remakes it), the next beat; None before the music starts."""
        head, spb = self.sequencer.playhead, self.info.steps_per_bar
        if head is None or head.step_seconds <= 0:
            return None
        left = index * spb - head.position(self.clock.now(), spb)  # steps
        if left < -spb:
            return None  # the playhead is stale (a clock that stopped coming): no hurry is known
        if left < 0:
            left %= self.info.steps_per_beat
        return left * head.step_seconds

    def steps_played(self, index: int) -> int:
        """Steps of bar ``index`` played by its next beat (the bar playing; 0 for a bar not begun, or not known)."""
        head, spb, beat = self.sequencer.playhead, self.info.steps_per_bar, self.info.steps_per_beat
        if head is None or head.index != index or head.step_seconds <= 0:
            return 0
        steps = head.position(self.clock.now(), spb) - index * spb
        return min(spb, (int(steps // beat) + 1) * beat)

    def muted_now(self) -> frozenset[int]:
        return self.state.snapshot().muted

    def on_message(self, msg: mido.Message, arrival: float | None = None) -> None:
        """An input message: record it, wake whoever waits on it; nothing else.

        arrival : when it arrived (:func:`time.perf_counter` seconds; default: now), for MIDI clock.
        """
        if msg.type in REALTIME_TYPES:
            if isinstance(self.transport, MidiClockFollower):
                self.transport.record(msg, time.perf_counter() if arrival is None else arrival)
        elif self.player is not None and self.player.record(msg, time.perf_counter() if arrival is None else arrival):
            if self.options.thru:
                self.tracker.thru(msg)
            self.composer.wake()
        elif self.state.record(msg):
            log.debug("control %s", msg)
            self.composer.wake()
        else:
            self._switches()

    def _switches(self) -> None:
        """The performance switches a control message may have moved: freeze, panic."""
        recorded = self.state.snapshot()
        if recorded.frozen != self._frozen:
            self._frozen = recorded.frozen
            log.info("freeze %s", "on: the last phrase repeats" if recorded.frozen else "off: the music goes on")
            self.composer.freeze(recorded.frozen)
        if recorded.panics != self._panics:  # released at once, from this thread (the tracker is locked)
            self._panics = recorded.panics
            log.info("panic from the input: every note released")
            self.tracker.release_all(force=True)
            if self.player is not None:
                self.player.panic()

    def run(self, bars: int | None = None) -> None:
        """Clear stale notes, generate ahead, then play until ``bars`` bars or a stop; always releases.

        Playing in real time (``background``), what the interpreter's garbage collector holds at the
        start is frozen (:func:`gc.freeze`) for the session: a full collection of it took 5-10 ms with
        the lock held, in whichever thread it fell; after the freeze it takes microseconds.
        """
        self._clear_channels()
        self.composer.start()
        frozen = False
        try:
            ready = self.composer.wait_ready(self.options.ready_timeout, self.clock.stop)
            if self.clock.stop.is_set():
                return  # stopped during start-up
            if self.composer.error is not None:
                raise RuntimeError(f"generation failed: {self.composer.error!r}") from self.composer.error
            if not ready:
                raise RuntimeError(f"the first bar was not generated within {self.options.ready_timeout:.0f} s")
            if self.options.realtime:
                # Only now: threads started after this would inherit the real-time policy.
                if try_realtime(CLOCK_PRIORITY):
                    log.info("clock thread: real-time priority (SCHED_FIFO)")
                else:
                    log.info("clock thread: normal priority; real-time scheduling is not permitted here "
                             "(it needs root or an rtprio limit, as JACK's does; --no-realtime stops asking)")
            if self.options.background:
                gc.collect()
                gc.freeze()
                frozen = True
            self.transport.arm(self.options.preroll)
            self.sequencer.play(bars)
        finally:
            if frozen:
                gc.unfreeze()
            self.composer.stop()
            self.tracker.release_all()
            self.transport.close()

    def _clear_channels(self) -> None:
        """All Notes Off on our channels first: a previous run killed with SIGKILL could not clean up."""
        self.tracker.clear(self.info.channels)


class _Nowhere(mido.ports.BaseOutput):
    """A port that encodes each message as rtmidi's does and drops it (the rehearsal's)."""

    def _send(self, msg: mido.Message) -> None:
        msg.bytes()
