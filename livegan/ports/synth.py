"""Sound through FluidSynth: a live synth for ``livegan run --synth``, and the synth that
:mod:`livegan.offline.wav` renders WAV files with.

Both play the messages LiveGAN sends, as a General MIDI receiver would: each
channel's program from its program changes, drums on channel 10 (FluidSynth's GM
mode selects the percussion bank there). pyfluidsynth and its C library are
imported only here, and only when a WAV or a synth is asked for.

SoundFont lookup (:func:`find_soundfont`): ``--soundfont``, then ``$LIVEGAN_SOUNDFONT``,
then the usual system places (Debian's fluid-soundfont-gm and timgm6mb-soundfont,
other distributions' soundfont packages, FluidSynth's own default, Homebrew's).
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import mido

from livegan.errors import UserError
from livegan.threads import name_os_thread

log = logging.getLogger(__name__)

SOUNDFONT_ENV = "LIVEGAN_SOUNDFONT"
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/default-GM.sf2",  # Debian/Ubuntu: whichever GM font is installed
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # Debian/Ubuntu fluid-soundfont-gm
    "/usr/share/sounds/sf2/TimGM6mb.sf2",  # Debian/Ubuntu timgm6mb-soundfont
    "/usr/share/soundfonts/default.sf2",  # Arch, Fedora (FluidSynth's compiled-in default)
    "/usr/share/soundfonts/FluidR3_GM.sf2",  # Fedora fluid-soundfont-gm, Arch soundfont-fluid
    "/usr/share/sounds/sf2/FluidR3_GM2-2.sf2",
    "~/.fluidsynth/default_sound_font.sf2",  # the fluidsynth program's per-user default
    "/opt/homebrew/share/soundfonts/default.sf2",  # macOS Homebrew (Apple silicon)
    "/usr/local/share/soundfonts/default.sf2",  # macOS Homebrew (Intel), BSDs
)
INSTALL_HINT = ("install one (Debian/Ubuntu: sudo apt-get install fluid-soundfont-gm; Fedora: sudo dnf install "
                "fluid-soundfont-gm; Arch: sudo pacman -S soundfont-fluid; macOS: download a GM SoundFont such as "
                "GeneralUser GS to /opt/homebrew/share/soundfonts/default.sf2), pass --soundfont FILE.sf2, "
                f"or set {SOUNDFONT_ENV}")
LIVE_DRIVERS = {"linux": ("pulseaudio", "alsa"), "darwin": ("coreaudio",), "win32": ("wasapi", "dsound")}


def find_soundfont(explicit: str | Path | None = None, environ: dict[str, str] | None = None,
                   candidates: Iterable[str] = SYSTEM_SOUNDFONTS) -> Path:
    """The SoundFont to use: ``explicit``, then ``$LIVEGAN_SOUNDFONT``, then the first system one that exists."""
    environ = os.environ if environ is None else environ
    for source, value in (("--soundfont", explicit), (SOUNDFONT_ENV, environ.get(SOUNDFONT_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise UserError(f"SoundFont '{path}' (from {source}) does not exist: pass an .sf2 file, or {INSTALL_HINT}")
            return path
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
    raise UserError(f"no SoundFont found for FluidSynth: {INSTALL_HINT}")


def import_fluidsynth():
    """The pyfluidsynth module, or a UserError saying what to install."""
    try:
        import fluidsynth
    except ModuleNotFoundError:
        raise UserError("audio needs pyfluidsynth: pip install 'livegan[render]'") from None
    except (ImportError, OSError):
        lib = "brew install fluid-synth" if sys.platform == "darwin" else "sudo apt-get install libfluidsynth3 (Debian/Ubuntu)"
        raise UserError(f"pyfluidsynth cannot find the FluidSynth library: {lib}") from None
    if not hasattr(fluidsynth, "Synth"):
        raise UserError("the 'fluidsynth' module found is not pyfluidsynth: pip uninstall fluidsynth; pip install pyfluidsynth")
    _route_logs(fluidsynth)
    return fluidsynth


_log_callback = None
fluid_errors: list[str] = []  # FluidSynth's recent error messages, newest last


def _route_logs(fs) -> None:
    """Send FluidSynth's error, warning and info lines to our debug log instead of stderr (once)."""
    global _log_callback
    if _log_callback is not None or not hasattr(fs, "_fl"):
        return
    import ctypes

    def record(level: int, message: bytes, data: object) -> None:
        text = message.decode(errors="replace") if message else ""
        if level <= 1:
            fluid_errors[:] = [*fluid_errors[-4:], text]
        log.debug("fluidsynth: %s", text)

    _log_callback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)(record)
    for level in (1, 2, 3):  # FLUID_ERR, FLUID_WARN, FLUID_INFO; panics still reach stderr
        fs._fl.fluid_set_log_function(level, _log_callback, None)


def new_synth(soundfont: Path, sample_rate: int = 44100, gain: float = 0.4, **settings):
    """A FluidSynth synth with ``soundfont`` loaded on every channel (GM: drums on channel 10)."""
    fs = import_fluidsynth()
    synth = fs.Synth(gain=gain, samplerate=sample_rate, **settings)
    if synth.sfload(str(soundfont), 1) < 0:  # 1: give every channel the font's presets at once
        synth.delete()
        raise UserError(f"FluidSynth cannot load the SoundFont '{soundfont}': pass another with --soundfont")
    return synth


def apply(synth, msg: mido.Message) -> None:
    """Play one MIDI message on a FluidSynth synth (notes, programs, controllers, pitch bend)."""
    kind = msg.type
    if kind == "note_on" and msg.velocity > 0:
        synth.noteon(msg.channel, msg.note, msg.velocity)
    elif kind in ("note_off", "note_on"):
        synth.noteoff(msg.channel, msg.note)
    elif kind == "program_change":
        synth.program_change(msg.channel, msg.program)
    elif kind == "control_change":
        synth.cc(msg.channel, msg.control, msg.value)
    elif kind == "pitchwheel":
        synth.pitch_bend(msg.channel, msg.pitch)


class LiveSynth:
    """A FluidSynth playing to the sound card (or JACK) whatever the daemon sends.

    The tap (:meth:`__call__`) only puts the message on a queue; a worker thread hands
    it to FluidSynth, so the clock thread never waits on the synth's lock.
    """

    def __init__(self, synth, driver: str) -> None:
        self.synth = synth
        self.driver = driver
        self._queue: queue.SimpleQueue[mido.Message | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="livegan-synth", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, soundfont: str | Path | None = None, api: str | None = None, client_name: str = "LiveGAN-synth") -> LiveSynth:
        """Start FluidSynth on JACK (``api == "jack"``) or the platform's audio; a UserError if none starts."""
        path = find_soundfont(soundfont)
        drivers = ("jack",) if api == "jack" else LIVE_DRIVERS.get(sys.platform, ("alsa",))
        if api == "jack":
            os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never start a server behind the user's back
        synth = new_synth(path, 48000, **{"audio.jack.id": client_name, "audio.jack.autoconnect": 1})
        fs = import_fluidsynth()
        fluid_errors.clear()
        for driver in drivers:
            synth.setting("audio.driver", driver)
            synth.audio_driver = fs.new_fluid_audio_driver(synth.settings, synth.synth)
            if synth.audio_driver:
                log.info("synth: FluidSynth on %s with %s", driver, path.name)
                return cls(synth, driver)
        synth.delete()
        where = "the JACK server (is it running?)" if api == "jack" else f"the sound card ({' or '.join(drivers)})"
        reason = f" ({fluid_errors[-1]})" if fluid_errors else ""
        raise UserError(f"--synth: FluidSynth could not open {where}{reason}; check the audio setup, or drop --synth")

    def __call__(self, msg: mido.Message) -> None:
        self._queue.put(msg)

    def _work(self) -> None:
        name_os_thread()
        while (msg := self._queue.get()) is not None:
            try:
                apply(self.synth, msg)
            except Exception as exc:  # a synth error must never reach the music
                log.warning("synth: %s (message %s dropped)", exc, msg)

    def close(self) -> None:
        """Play what is queued (the releases), then stop the audio driver and free the synth."""
        self._queue.put(None)
        self._thread.join(timeout=2.0)
        for channel in range(16):
            self.synth.all_notes_off(channel)
        self.synth.delete()
