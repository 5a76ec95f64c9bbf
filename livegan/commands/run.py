"""``livegan run``: the daemon. Streams generated bars to a MIDI port until Ctrl-C or SIGTERM."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import click

from livegan.errors import UserError
from livegan.model.locate import model_path

log = logging.getLogger("livegan")

INPUT_PRIORITY = 8  # SCHED_FIFO priority of the input polling thread: below the clock thread's 10, above the composer's 5
DRAIN_SECONDS = 0.1  # covers JACK periods up to 2048 frames at 44.1 kHz, twice
CLOSE_TIMEOUT_SECONDS = 5.0  # closing the ports takes milliseconds; longer means the MIDI system hangs


@click.command()
@click.option("--port", "port_name", default="LiveGAN Out", show_default=True,
              help="Output port. Created as a virtual port (JACK, ALSA, CoreMIDI); on Windows, an existing port whose name starts with this (loopMIDI).")
@click.option("--existing", is_flag=True, help="Open an existing output port by name prefix instead of creating a virtual one.")
@click.option("--in", "in_name", default=None, help="Open this existing input port for control (default: a virtual 'LiveGAN In').")
@click.option("--no-input", is_flag=True, help="Do not listen for control changes.")
@click.option("--api", type=click.Choice(["jack", "alsa", "coremidi", "winmm"]), default=None,
              help="rtmidi API (default: on Linux ALSA if its sequencer exists, else JACK if a server answers; CoreMIDI on macOS, WinMM on Windows).")
@click.option("--model", type=click.Path(path_type=Path), default=None, help="ONNX model (default: the shipped one).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Inference device; CUDA falls back to CPU with a warning.")
@click.option("--bpm", type=click.FloatRange(20, 400), default=120.0, show_default=True, help="Tempo in beats per minute.")
@click.option("--mood", "mood_name", default=None, help="Mood to start in (default: the first preset).")
@click.option("--moods", "moods_file", type=click.Path(path_type=Path), default=None, help="Mood presets TOML (default: the shipped configs/moods.toml).")
@click.option("--controls", "controls_file", type=click.Path(path_type=Path), default=None, help="Control map TOML (default: the shipped configs/controls.toml).")
@click.option("--seed", type=int, default=None, help="Seed of the latent walk, for a reproducible stream.")
@click.option("--lookahead", type=click.IntRange(1, 16), default=2, show_default=True, help="Bars generated ahead of the playhead.")
@click.option("--threshold", type=click.FloatRange(0.01, 0.99), default=None, help="Note probability threshold (default: the model's).")
@click.option("--temperature", type=click.FloatRange(0.05, 10), default=None,
              help="Sampling temperature of a step or infill model (LSTM, Coconet; default: the model's); below 1 is safer, above 1 wilder.")
@click.option("--iterations", type=click.IntRange(1, 1000), default=None,
              help="Gibbs passes per bar of an infill model (Coconet; default: the model's): fewer are faster and rougher.")
@click.option("--guide", type=click.IntRange(1, 64), default=None,
              help="Mood guidance: generate this many candidate phrases from nearby latents and play the one whose key "
                   "and note density fit the mood best (1: play the model's phrase as it is). Default: 8 for phrase and step "
                   "models, 1 for an infill model (its mood is in the model).")
@click.option("--bars", type=click.IntRange(1), default=None, help="Stop after this many bars (default: play until stopped).")
@click.option("--clock", "clock_source", type=click.Choice(["internal", "external", "link"]), default="internal", show_default=True,
              help="external: follow MIDI clock, Start/Stop/Continue and Song Position from the input port (the DAW leads); "
                   "link: share tempo and bar phase with an Ableton Link session (pip install 'livegan[link]').")
@click.option("--send-clock", is_flag=True, help="Send MIDI clock and Start/Stop on the output port, so a DAW or hardware can follow.")
@click.option("--switch", type=click.Choice(["bar", "beat"]), default="bar", show_default=True, help="Mood changes land at the next bar or the next beat.")
@click.option("--morph", "morph_bars", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Mood changes glide over this many bars (0: switch at the next bar).")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write everything sent to this standard MIDI file, kept complete on disk as the take grows.")
@click.option("--synth", is_flag=True, help="Also play what is sent through FluidSynth: to the sound card, or to JACK with --api jack.")
@click.option("--soundfont", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SoundFont for --synth (default: $LIVEGAN_SOUNDFONT, else the system's GM SoundFont).")
@click.option("--worker/--no-worker", default=True, show_default=True,
              help="Make the bars in a worker process, so generation never holds what the clock thread needs "
                   "(--no-worker: in the daemon's own process).")
@click.option("--realtime/--no-realtime", default=True, show_default=True,
              help="Real-time scheduling (SCHED_FIFO) of the clock thread where the OS permits it, as JACK's own; "
                   "one log line says which it got.")
@click.option("--follow", type=click.Choice(["chords", "melody"]), default=None,
              help="chords: the chord you hold on the input is the harmony of the next bar (led from what the voices "
                   "played, in the mood) until you change it; all keys up lets the model choose again. melody: each "
                   "phrase you play is echoed, harmonized in four voices with your melody as the soprano (an infill model).")
@click.option("--respond", is_flag=True,
              help="Call and response: the voices listen; when you stop (a bar of silence) they answer your phrase "
                   "with its continuation, then listen again (an infill model).")
@click.option("--response-bars", type=click.IntRange(1, 16), default=None,
              help="With --respond: bars of each answer (default: as many as you played).")
@click.option("--play-channel", type=click.IntRange(1, 16), default=None,
              help="With --follow or --respond: the input channel you play on (default: any).")
@click.option("--thru", is_flag=True, help="With --follow or --respond: pass the notes you play on to the output.")
@click.option("-q", "--quiet", is_flag=True, help="No status line.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs.")
def run(port_name: str, existing: bool, in_name: str | None, no_input: bool, api: str | None, model: Path | None,
        device: str, bpm: float, mood_name: str | None, moods_file: Path | None, controls_file: Path | None,
        seed: int | None, lookahead: int, threshold: float | None, temperature: float | None, iterations: int | None, guide: int | None,
        bars: int | None, clock_source: str, send_clock: bool,
        switch: str, morph_bars: int, record: Path | None, synth: bool, soundfont: Path | None, worker: bool, realtime: bool,
        follow: str | None, respond: bool, response_bars: int | None, play_channel: int | None, thru: bool,
        quiet: bool, verbose: bool) -> None:
    """Stream generated bars to a MIDI port, on time, until Ctrl-C."""
    if verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    started = time.perf_counter()
    from livegan.live.session import SessionOptions

    if clock_source == "external" and no_input:
        raise UserError("--clock external follows MIDI clock from the input port: drop --no-input (and pass --in NAME)")
    presets, controls = _load_config(moods_file, controls_file)
    start_mood = _start_mood(presets, mood_name)
    follow = _play_mode(follow, respond, response_bars, play_channel, thru, no_input)
    generator = _load_model(model, device, temperature, iterations)
    make_seconds = 0.5
    if generator.info.runtime == "infill":  # an answer's first bar, wanted soon, is made in a 2-bar window: that long
        from livegan.generation.infill import hurried_seconds

        make_seconds = hurried_seconds(_check_tempo(generator, bpm, clock_source), generator.info)
    if follow and generator.info.runtime != "infill":
        raise UserError(f"{'--respond' if follow == 'respond' else '--follow ' + follow} needs an infill model (the default); "
                        f"'{model_path(model)}' is a {generator.info.runtime} model ({generator.info.architecture})")
    spec = None
    if worker:
        from livegan.generation.worker import WorkerSpec

        spec = WorkerSpec(model_path(model), "cuda" if generator.provider.startswith("CUDA") else "cpu", 1, temperature,
                          iterations)
    if guide is None:
        from livegan.generation.guide import default_candidates

        guide = default_candidates(generator.info)
    options = SessionOptions(bpm=bpm, lookahead=lookahead, seed=seed, threshold=threshold, start_mood=start_mood,
                             guide=guide, clock=clock_source, send_clock=send_clock, switch=switch, morph_bars=morph_bars,
                             follow=follow, play_channel=None if play_channel is None else play_channel - 1, thru=thru,
                             response_bars=response_bars, bar_seconds=make_seconds)
    code = _play(generator, presets, controls, options, Outputs(port_name, existing, api, in_name, no_input, record,
                                                               synth, soundfont), bars, quiet, started, realtime, spec)
    if code:
        sys.exit(code)


HEADROOM = 1.5  # a bar must be made in 1/HEADROOM of its length, leaving time for mood switches and the machine's other work


def _play_mode(follow: str | None, respond: bool, response_bars: int | None, play_channel: int | None, thru: bool,
               no_input: bool) -> str | None:
    """The play-along mode asked for (``chords``, ``melody``, ``respond``), its options checked; one-line errors."""
    if follow and respond:
        raise UserError("--follow and --respond are two ways to play along: choose one")
    mode = "respond" if respond else follow
    if mode and no_input:
        raise UserError(f"{'--respond' if respond else '--follow'} listens to the notes you play on the input: drop --no-input")
    if not mode and (play_channel is not None or thru):
        raise UserError("--play-channel and --thru go with --follow or --respond")
    if response_bars is not None and mode != "respond":
        raise UserError("--response-bars goes with --respond")
    return mode


def _check_tempo(generator, bpm: float, clock_source: str) -> float:
    """Time one bar of an infill model here and say which tempo it holds; warn when ``--bpm`` is beyond it.
    Returns the seconds a bar takes to make."""
    from livegan.generation.infill import bar_seconds

    seconds = bar_seconds(generator)
    info = generator.info
    holds = 60.0 * info.beats_per_bar / (seconds * HEADROOM)
    log.info("the model makes a bar in %.0f ms here (%d Gibbs passes): it holds tempos up to %.0f BPM",
             seconds * 1e3, generator.iterations, holds)
    if clock_source == "internal" and bpm > holds:
        log.warning("at %g BPM a bar lasts %.2f s and this model needs %.2f s to make one here: bars may come late and "
                    "be skipped; play at %.0f BPM or less, or pass --iterations %d", bpm, 60.0 * info.beats_per_bar / bpm,
                    seconds, holds, max(1, int(generator.iterations * holds / bpm)))
    return seconds


@dataclass(frozen=True)
class Outputs:
    """Where the music goes and where the controls come from (the port options of ``run``)."""

    port_name: str
    existing: bool
    api: str | None
    in_name: str | None
    no_input: bool
    record: Path | None
    synth: bool
    soundfont: Path | None


def _load_config(moods_file: Path | None, controls_file: Path | None):
    """Mood presets and the control map (the user's learned one if there is one); mistakes exit 2."""
    from livegan.mood.controls import load_control_map, user_controls_path
    from livegan.mood.presets import load_moods

    presets = load_moods(moods_file)
    if controls_file is None and user_controls_path().is_file():
        controls_file = user_controls_path()
        log.info("controls learned with 'livegan learn': %s", controls_file)
    return presets, load_control_map(controls_file)


def _load_model(model: Path | None, device: str, temperature: float | None = None, iterations: int | None = None):
    """The generator, validated and warmed up; a model that does not fit is one line, exit 2."""
    from livegan.model.engine import load_model, set_iterations, set_temperature

    model = model_path(model)
    generator = load_model(model, device=device, threads=1)
    if temperature is not None:
        set_temperature(generator, temperature)
    if iterations is not None:
        set_iterations(generator, iterations)
    warm = generator.warm_up()
    log.info("model %s (%s, %s runtime, %d tracks: %s), warm-up %.0f ms", model.name, generator.provider,
             generator.info.runtime, len(generator.info.tracks), ", ".join(t.name for t in generator.info.tracks), warm * 1e3)
    return generator


def _start_mood(presets, name: str | None) -> int:
    from livegan.mood.presets import find_mood

    return presets.index(find_mood(presets, name)) if name else 0


def _play(generator, presets, controls, options, outputs: Outputs, bars: int | None, quiet: bool, started: float,
          realtime: bool = False, worker=None) -> int:
    """Open the ports, play until stopped, close everything; the exit code (0 = a clean stop)."""
    from livegan.live.session import LiveSession
    from livegan.live.status import StatusLine
    from livegan.ports.midi import API_NAMES, open_input, open_output, pick_api
    from livegan.timing.clock import MonotonicClock, try_realtime

    if outputs.api is None:
        api, why = pick_api()
        log.info("MIDI through %s (%s; --api chooses another)", API_NAMES[api], why)
    else:
        api = outputs.api
    # The clock thread must get the GIL back quickly from the composer thread (default 5 ms).
    sys.setswitchinterval(0.0005)
    # If the clock thread is ever stuck (rtmidi's JACK send spins forever, holding the GIL, once
    # its client stops being served), exit after a few bars instead of hanging.
    clock = MonotonicClock(hang_timeout=10.0 + 3 * 60.0 / options.bpm * generator.info.beats_per_bar)
    _stop_on_signals(clock)
    status = StatusLine(enabled=not quiet and sys.stderr.isatty())
    with _signals_held():  # a Ctrl-C now would break libjack's port creation mid-way: take it just after
        port = open_output(outputs.port_name, api, existing=outputs.existing)
    session = inport = watchdog = None
    input_priority = (lambda: try_realtime(INPUT_PRIORITY)) if realtime else None
    if outputs.record is not None or outputs.synth:
        from livegan.ports.taps import (
            tap_output,  # FluidSynth is imported only for --synth
        )

        # The take's tick 0 is when bar 1 was due, even if its first note was late (the session is made below).
        port = tap_output(port, generator.info, options.bpm, outputs.record, outputs.synth, outputs.soundfont, api,
                          origin_from=lambda: session.transport.time_of(0.0) if session is not None else None)
    try:
        session = LiveSession(generator, presets, controls, port, clock, replace(options, realtime=realtime),
                              on_bar=status.update, worker=worker)
        if not outputs.no_input:
            with _signals_held():
                inport = open_input(outputs.in_name or "LiveGAN In", api, session.on_message, priority=input_priority,
                                    virtual=outputs.in_name is None)
        tempo = {"external": "following MIDI clock", "link": "in the Ableton Link session"}.get(
            options.clock, f"at {options.bpm:g} BPM")
        log.info("playing to '%s' %s (ready in %.2f s); Ctrl-C stops", port.name, tempo, time.perf_counter() - started)
        watchdog = _watch_jack(clock) if api == "jack" else None
        code = _run_session(session, clock, status, bars, watchdog)
    finally:
        settle = _settle(api, watchdog)
        close_or_abandon(lambda: close_ports(port, inport, watchdog, settle))
    if getattr(getattr(port, "recorder", None), "failed", False):
        return code or 4  # the take on disk is incomplete (the error was logged): not a clean exit
    return code


def close_ports(port, inport, watchdog, settle: Callable[[], None], drain: float = DRAIN_SECONDS) -> None:
    """Close the MIDI ports: each port leaves the MIDI system while its client is still open and the JACK graph
    has settled, then the clients close, the watchdog's last.

    libjack (JACK2's ``JackClient``) removes a port from its client's port list on the thread that unregisters
    it, while the client's notification thread may be walking the same list, with no lock, for the latency
    callback the server sends every client after each change to the graph. A port unregistered at that moment
    is a use-after-free: the daemon died of SIGSEGV on Ctrl-C now and then (a core dump: the notification
    thread in ``HandleLatencyCallback`` on a freed list node, the main thread in ``jack_port_unregister``, just
    after the watchdog's client had closed). Each step here changes the graph, and each used to follow the one
    before at once. Now ``settle()`` (the server has told every client of the changes so far:
    :meth:`~livegan.ports.jackwatch.JackWatchdog.settle`) comes before each port leaves. Closing a client
    deactivates it first, which ends its notifications before its port list is freed: once the ports are gone
    the clients close in any order.

    JACK hands MIDI over once per period: the output's last note-offs, still queued in rtmidi's buffer, would
    go with its port, so the driver gets ``drain`` seconds (a few periods) first.
    """
    if inport is not None:
        inport.stop()
    time.sleep(drain)
    for opened in (inport, port):
        if opened is not None and hasattr(opened, "unregister"):
            settle()
            opened.unregister()
    if inport is not None:
        inport.close()
    port.close()
    if watchdog is not None:
        watchdog.close()


def _settle(api: str, watchdog) -> Callable[[], None]:
    """What :func:`close_ports` waits on before a port leaves: the watchdog's settle under JACK (a plain wait
    without one), nothing under the other MIDI systems."""
    if api != "jack":
        return lambda: None
    if watchdog is not None:
        return watchdog.settle
    from livegan.ports.jackwatch import SETTLE_SECONDS

    return lambda: time.sleep(SETTLE_SECONDS)


def close_or_abandon(close: Callable[[], None], timeout: float = CLOSE_TIMEOUT_SECONDS,
                     exit: Callable[[int], None] = os._exit) -> None:
    """Run ``close``; if it has not returned after ``timeout`` seconds, log one line and ``exit(3)``.

    Closing a JACK client whose server vanished mid-cycle can deadlock inside libjack
    (seen: ``jack_client_close`` waiting forever on a lock its own process thread
    holds). The notes were released before this point, or went with the server, so
    nothing is lost by leaving: a daemon that ignores Ctrl-C forever is the worse fault.
    """
    def abandon() -> None:
        log.error("stopped: closing the MIDI ports did not finish in %g s (the JACK server is gone or hung); "
                  "exiting without waiting", timeout)
        for handler in logging.getLogger().handlers:
            handler.flush()
        exit(3)

    guard = threading.Timer(timeout, abandon)
    guard.daemon = True
    guard.start()
    # If the stuck call holds the GIL, the timer never runs: faulthandler's C thread
    # then prints every thread's stack and exits with code 1, like the clock's watchdog.
    faulthandler.dump_traceback_later(timeout + 1.0, exit=True)
    try:
        close()
    finally:
        faulthandler.cancel_dump_traceback_later()
        guard.cancel()


def _run_session(session, clock, status, bars: int | None, watchdog) -> int:
    """Play; 0 after a stop, 1 if generation failed, 3 if the JACK server went away."""
    try:
        session.run(bars)
    except RuntimeError as exc:
        log.error("stopped: %s; all notes were released", exc)
        return 1
    finally:
        clock.disarm()
        status.close()
    if watchdog is not None and watchdog.gone.is_set():
        log.error("stopped: the JACK server went away (its ports, and the notes on them, went with it); "
                  "start livegan again once JACK is back")
        return 3
    late = session.sequencer.lateness.summary()
    log.info("stopped after %d bars; event lateness median %.2f ms, p99 %.2f ms, max %.2f ms",
             session.sequencer.bars_played, late["median_ms"], late["p99_ms"], late["max_ms"])
    return 0


def _watch_jack(clock):
    """Stop the clock if the JACK server goes away (rtmidi would go on sending into nothing)."""
    from livegan.ports.jackwatch import JackWatchdog

    watchdog = JackWatchdog(clock.stop.set)
    return watchdog if watchdog.active else None


@contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM while a MIDI driver opens a port; they are delivered right after.

    Threads the driver starts meanwhile inherit the mask, so signals reach the main thread.
    """
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop_on_signals(clock) -> None:
    """SIGINT and SIGTERM ask the clock to stop; the sequencer then releases every note and returns."""

    def handler(signum: int, frame) -> None:
        clock.stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
