"""Messages -> a WAV file through FluidSynth, faster than real time (``livegan render --wav``)."""

from __future__ import annotations

import os
import time
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import mido

from livegan.errors import UserError
from livegan.ports.synth import apply, new_synth


@dataclass(frozen=True)
class WavInfo:
    path: Path
    frames: int
    sample_rate: int
    seconds: float  # wall time the rendering took
    soundfont: Path


def render_wav(messages: Iterable[tuple[float, mido.Message]], seconds: float, path: str | Path,
               soundfont: Path, sample_rate: int = 44100, tail: float = 1.0, gain: float = 0.4) -> WavInfo:
    """Render timed messages offline (faster than real time) to a 16-bit stereo WAV.

    Parameters
    ----------
    messages : (seconds from the start, message), in time order.
    seconds : length of the piece; the file lasts ``seconds + tail`` (the tail lets the last notes ring out).
    soundfont : an .sf2 file (see :func:`find_soundfont`).
    """
    started = time.perf_counter()
    path = Path(path)
    total = int(round((seconds + tail) * sample_rate))
    synth = new_synth(soundfont, sample_rate, gain, **{"synth.cpu-cores": min(4, os.cpu_count() or 1)})
    try:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            done = 0
            for when, msg in messages:
                frame = min(int(round(when * sample_rate)), total)
                done = _write_frames(synth, out, done, frame)
                apply(synth, msg)
            done = _write_frames(synth, out, done, total)
    except OSError as exc:
        raise UserError(f"cannot write '{path}' ({exc.strerror or exc})") from None
    finally:
        synth.delete()
    return WavInfo(path, total, sample_rate, time.perf_counter() - started, soundfont)


def _write_frames(synth, out: wave.Wave_write, done: int, until: int, block: int = 1 << 16) -> int:
    """Synthesize frames ``done`` .. ``until`` into ``out``, in blocks; returns the new frame count."""
    while done < until:
        n = min(block, until - done)
        out.writeframes(synth.get_samples(n).astype("<i2").tobytes())
        done += n
    return done
