"""``livegan render``: a piece to a MIDI file, and optionally a WAV and a piano-roll PNG.

The notes come from the daemon's own path (see :mod:`livegan.offline.render`); FluidSynth and
matplotlib are imported only when ``--wav`` or ``--png`` asks for them.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

import click

from livegan.errors import UserError

log = logging.getLogger("livegan")


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Standard MIDI file to write (type 1: tempo, one named track per instrument, drums on channel 10).")
@click.option("--wav", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also render audio with FluidSynth to this WAV file (16-bit stereo).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw a piano roll to this PNG file.")
@click.option("--bars", type=click.IntRange(1, 100_000), default=None,
              help="Length in bars (default: the --mood schedule's total, else 16).")
@click.option("--mood", "schedule", default=None,
              help="A preset, or a schedule of presets and bars: 'uplifting:8,bittersweet:8' (the last one may omit its bars).")
@click.option("--valence", type=click.FloatRange(-1, 1), default=None, help="Valence of a custom mood, -1..1 (with --arousal; instead of --mood).")
@click.option("--arousal", type=click.FloatRange(-1, 1), default=None, help="Arousal of a custom mood, -1..1 (with --valence).")
@click.option("--morph", "morph_bars", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Each mood change of the schedule glides over this many bars (0: it switches at the bar line).")
@click.option("--seed", type=int, default=None, help="Seed of the latent walk (default: a random one, printed); the same seed renders the same file.")
@click.option("--model", type=click.Path(path_type=Path), default=None, help="ONNX model (default: the shipped one).")
@click.option("--moods", "moods_file", type=click.Path(path_type=Path), default=None, help="Mood presets TOML (default: the shipped one).")
@click.option("--bpm", type=click.FloatRange(20, 400), default=120.0, show_default=True, help="Tempo in beats per minute.")
@click.option("--threshold", type=click.FloatRange(0.01, 0.99), default=None, help="Note probability threshold (default: the model's).")
@click.option("--guide", type=click.IntRange(1, 64), default=None,
              help="Mood guidance, as livegan run's: play the best fitting of this many candidate phrases (1: off; default: 8, or 1 for an infill model).")
@click.option("--follow", type=click.Choice(["chords", "melody"]), default=None,
              help="chords: the voices play the chords of --chords (one a bar, repeating), as 'livegan run --follow chords' "
                   "plays the chords you hold; melody: the voices harmonize the melody of --clip, which is their soprano, "
                   "as 'livegan run --follow melody' echoes what you play (an infill model).")
@click.option("--chords", "chord_text", default=None,
              help="Chord symbols, one a bar (\"C G Am F\"; N: none), or a MIDI file whose notes sounding in each bar "
                   "are the chords.")
@click.option("--clip", "melody_clip", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --follow melody: a MIDI file whose top line is the melody to harmonize.")
@click.option("--iterations", type=click.IntRange(1, 1000), default=None,
              help="Gibbs passes per bar of an infill model (Coconet; default: the model's).")
@click.option("--temperature", type=click.FloatRange(0.05, 10), default=None,
              help="Sampling temperature of a step or infill model (LSTM, Coconet; default: the model's).")
@click.option("--continue", "clip_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Start from your MIDI clip: a VAE plays variations of it, a step model (LSTM) continues it.")
@click.option("--variation", type=click.FloatRange(0, 2), default=0.5, show_default=True,
              help="With --continue and a VAE: how far the variations stray from the clip (0: the clip as the model hears it).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Inference device (cuda needs onnxruntime-gpu; falls back to the CPU with a warning).")
@click.option("--soundfont", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SoundFont for --wav (default: $LIVEGAN_SOUNDFONT, else the system's GM SoundFont).")
@click.option("--sample-rate", type=click.IntRange(8000, 192000), default=44100, show_default=True, help="WAV sample rate in Hz.")
def render(output: Path, wav: Path | None, png: Path | None, bars: int | None, schedule: str | None,
           valence: float | None, arousal: float | None, morph_bars: int, seed: int | None, model: Path | None,
           moods_file: Path | None, bpm: float, threshold: float | None, guide: int | None, follow: str | None, chord_text: str | None, melody_clip: Path | None,
           iterations: int | None,
           temperature: float | None,
           clip_path: Path | None, variation: float, device: str,
           soundfont: Path | None, sample_rate: int) -> None:
    """Render a piece to MIDI (and WAV, PNG): the notes ``livegan run`` plays with the same options."""
    from livegan.generation.guide import default_candidates
    from livegan.model.engine import load_model, set_iterations, set_temperature
    from livegan.model.locate import model_path
    from livegan.mood.presets import load_moods
    from livegan.offline.render import render_piece, schedule_length

    presets = load_moods(moods_file)
    segments = _segments(presets, schedule, valence, arousal)
    n_bars = schedule_length(segments, bars)
    font = _check_extras(wav, png, soundfont)
    model = model_path(model)
    generator = load_model(model, device=device)
    if temperature is not None:
        set_temperature(generator, temperature)
    if iterations is not None:
        set_iterations(generator, iterations)
    warm = generator.warm_up()  # lazy initialisation is not part of the render speed
    guide = default_candidates(generator.info) if guide is None else guide
    if seed is None:
        seed = secrets.randbelow(2**31)
        log.info("seed %d (pass --seed %d to render this piece again)", seed, seed)
    walk, opening = (None, None) if clip_path is None else _from_clip(generator, clip_path, segments[0].mood, seed, variation)
    chords = _chords(follow, chord_text, generator.info)
    melody = _melody(follow, melody_clip, generator.info)
    if melody and bars is None:  # the melody's bars, harmonized
        n_bars = -(-max(end for _, end, _ in melody) // generator.info.steps_per_bar)
    piece = render_piece(generator, segments, n_bars, seed, bpm=bpm, threshold=threshold, guide=guide, morph_bars=morph_bars,
                         title=f"LiveGAN {model.name}, seed {seed}", walk=walk, opening=opening, chords=chords,
                         melody=melody)
    took = piece.gen_seconds + piece.play_seconds
    log.info("rendered %d bars (%.1f s of music at %g BPM) in %.2f s on %s: %.0f bars/s "
             "(model %.2f s in %d call%s after a %.2f s warm-up, notes %.2f s, performance %.2f s)", n_bars, piece.seconds,
             bpm, took, generator.provider, n_bars / max(took, 1e-9), piece.model_seconds, piece.calls,
             "s" * (piece.calls != 1), warm, piece.gen_seconds - piece.model_seconds, piece.play_seconds)
    _write(output, piece.to_smf())
    notes = sum(1 for _, m in piece.messages if m.type == "note_on" and m.velocity)
    log.info("wrote %s (%d tracks, %d notes)", output, len(generator.info.tracks), notes)
    if wav is not None:
        from livegan.offline.wav import render_wav

        result = render_wav(piece.messages, piece.seconds, wav, font, sample_rate)
        log.info("wrote %s (%.1f s at %d Hz, %s) in %.2f s", wav, result.frames / sample_rate, sample_rate,
                 font.name, result.seconds)
    if png is not None:
        from livegan.offline import pianoroll

        started = time.perf_counter()
        try:
            pianoroll.save(piece, png)
        except OSError as exc:
            raise UserError(f"cannot write '{png}' ({exc.strerror or exc})") from None
        log.info("wrote %s in %.2f s", png, time.perf_counter() - started)


def _from_clip(generator, clip_path: Path, mood, seed: int, variation: float):
    """(walk, opening) that start the piece from a clip: its encoding (VAE) or its context (step model)."""
    import numpy as np

    from livegan.generation.latent import VariationWalk
    from livegan.model.engine import OnnxEncoder
    from livegan.music.clip import read_clip

    info = generator.info
    point = np.array([mood.point], dtype=np.float32)
    if info.runtime == "step":
        clip = read_clip(clip_path, info)
        log.info("continuing %s (%d bars, %d notes)", clip_path, clip.bars, clip.notes)
        return None, generator.listen(clip.roll[None], point)
    encoder = OnnxEncoder(generator)  # a model without one is a one-line UserError, before the clip is read
    clip = read_clip(clip_path, info)
    z = encoder.encode(clip.phrase(info)[None], point)
    log.info("varying %s (%d notes in its first %d bars; the model reads %d bars) with spread %.2f",
             clip_path, clip.notes, min(clip.bars, info.bars), info.bars, variation)
    return VariationWalk({"z": z}, seed, variation), None


def _melody(follow: str | None, clip: Path | None, info) -> list:
    """The melody of ``--follow melody --clip FILE``: its top line on the grid."""
    if follow != "melody":
        if clip is not None:
            raise UserError("--clip goes with --follow melody (to continue a clip, use --continue)")
        return []
    if clip is None:
        raise UserError("--follow melody needs --clip: a MIDI file of the melody to harmonize")
    from livegan.music.clip import melody_of_clip

    return melody_of_clip(clip, info)


def _chords(follow: str | None, text: str | None, info) -> list:
    """The chords of ``--follow chords --chords ...``: symbols, or a MIDI file's notes bar by bar."""
    from livegan.music.chords import parse_progression

    if follow != "chords":
        if text is not None:
            raise UserError("--chords goes with --follow chords")
        return []
    if not text:
        raise UserError("--follow chords needs --chords: symbols such as \"C G Am F\", or a MIDI file of chords")
    path = Path(text)
    if path.suffix.lower() in (".mid", ".midi"):
        from livegan.music.clip import chords_of_clip

        return chords_of_clip(path, info)
    return parse_progression(text)


def _segments(presets, schedule: str | None, valence: float | None, arousal: float | None):
    from livegan.offline.render import Segment, custom_mood, parse_schedule

    if (valence is None) != (arousal is None):
        raise UserError("a custom mood needs both --valence and --arousal (each -1..1)")
    if valence is not None:
        if schedule:
            raise UserError("pass either --mood or --valence/--arousal, not both")
        return [Segment(custom_mood(presets, valence, arousal))]
    return parse_schedule(schedule, presets) if schedule else [Segment(presets[0])]


def _check_extras(wav: Path | None, png: Path | None, soundfont: Path | None) -> Path | None:
    """Fail before any work if --wav or --png cannot be honoured; returns the SoundFont for --wav."""
    font = None
    if wav is not None:
        from livegan.ports.synth import find_soundfont, import_fluidsynth

        import_fluidsynth()
        font = find_soundfont(soundfont)
    if png is not None:
        try:
            import matplotlib  # noqa: F401
        except ModuleNotFoundError:
            raise UserError("--png needs matplotlib: pip install 'livegan[render]'") from None
    return font


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write '{path}' ({exc.strerror or exc})") from None
