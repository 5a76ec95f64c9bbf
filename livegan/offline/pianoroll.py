"""Piano-roll pictures of a rendered piece (matplotlib, imported only here).

One lane per track, stacked: time runs left to right in bars (numbered as musicians
count them, with beat lines), pitch upwards with note names (GM drum names on the
drum lane), note shade by velocity. A strip on top marks each bar's mood: its colour
follows valence (blue sad, red happy) and its height arousal, and each change of mood
is written out. The notes drawn are the notes *played* (what a synth hears: from the
messages the daemon would send), so swing, legato and retriggers show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livegan.music.smf import played_notes
from livegan.offline.render import Piece

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
GM_DRUMS = dict(enumerate((
    "Kick 2", "Kick", "Stick", "Snare", "Clap", "Snare 2", "Low Tom 2", "Closed HH", "Low Tom", "Pedal HH",
    "Mid Tom 2", "Open HH", "Mid Tom", "High Tom 2", "Crash", "High Tom", "Ride", "China", "Ride Bell", "Tambourine",
    "Splash", "Cowbell", "Crash 2", "Vibraslap", "Ride 2", "Hi Bongo", "Lo Bongo", "Mute Conga", "Hi Conga",
    "Lo Conga", "Hi Timbale", "Lo Timbale", "Hi Agogo", "Lo Agogo", "Cabasa", "Maracas", "Whistle", "Long Whistle",
    "Guiro", "Long Guiro", "Claves", "Hi Block", "Lo Block", "Mute Cuica", "Cuica", "Mute Triangle", "Triangle"), 35))
GM_PROGRAMS = (  # General MIDI level 1 instrument names, program 0 (DAWs show 1) to 127
    "Acoustic Grand Piano|Bright Piano|Electric Grand|Honky-tonk Piano|Electric Piano 1|Electric Piano 2|"
    "Harpsichord|Clavinet|Celesta|Glockenspiel|Music Box|Vibraphone|Marimba|Xylophone|Tubular Bells|Dulcimer|"
    "Drawbar Organ|Percussive Organ|Rock Organ|Church Organ|Reed Organ|Accordion|Harmonica|Tango Accordion|"
    "Nylon Guitar|Steel Guitar|Jazz Guitar|Clean Guitar|Muted Guitar|Overdriven Guitar|Distortion Guitar|"
    "Guitar Harmonics|Acoustic Bass|Finger Bass|Pick Bass|Fretless Bass|Slap Bass 1|Slap Bass 2|Synth Bass 1|"
    "Synth Bass 2|Violin|Viola|Cello|Contrabass|Tremolo Strings|Pizzicato Strings|Orchestral Harp|Timpani|"
    "String Ensemble 1|String Ensemble 2|Synth Strings 1|Synth Strings 2|Choir Aahs|Voice Oohs|Synth Voice|"
    "Orchestra Hit|Trumpet|Trombone|Tuba|Muted Trumpet|French Horn|Brass Section|Synth Brass 1|Synth Brass 2|"
    "Soprano Sax|Alto Sax|Tenor Sax|Baritone Sax|Oboe|English Horn|Bassoon|Clarinet|Piccolo|Flute|Recorder|"
    "Pan Flute|Blown Bottle|Shakuhachi|Whistle|Ocarina|Square Lead|Saw Lead|Calliope Lead|Chiff Lead|"
    "Charang Lead|Voice Lead|Fifths Lead|Bass Lead|New Age Pad|Warm Pad|Polysynth Pad|Choir Pad|Bowed Pad|"
    "Metallic Pad|Halo Pad|Sweep Pad|Rain FX|Soundtrack FX|Crystal FX|Atmosphere FX|Brightness FX|Goblins FX|"
    "Echoes FX|Sci-fi FX|Sitar|Banjo|Shamisen|Koto|Kalimba|Bagpipe|Fiddle|Shanai|Tinkle Bell|Agogo|Steel Drums|"
    "Woodblock|Taiko Drum|Melodic Tom|Synth Drum|Reverse Cymbal|Guitar Fret Noise|Breath Noise|Seashore|"
    "Bird Tweet|Telephone Ring|Helicopter|Applause|Gunshot").split("|")
LANE_COLOURS = ("#3b6fb6", "#d9822b", "#3a9a5b", "#b8474d", "#7a5cb3", "#8c6d46", "#c45ca2", "#5f6b73")


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific name, middle C (60) = C4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def program_label(program: int) -> str:
    """GM program (zero-based) -> its name and number as DAWs show it, e.g. 'Finger Bass (34)'."""
    return f"{GM_PROGRAMS[program]} ({program + 1})"


@dataclass(frozen=True)
class Lane:
    """The notes of one track: arrays of equal length, in beats from bar 1 and MIDI numbers."""

    name: str
    is_drum: bool
    channel: int
    start: np.ndarray  # float, beats
    length: np.ndarray  # float, beats
    pitch: np.ndarray  # int
    velocity: np.ndarray  # int
    programs: tuple[tuple[float, int], ...]  # (beat, GM program) at each program change


def lanes(piece: Piece) -> list[Lane]:
    """The played notes of ``piece`` per model track, in beats (what :func:`figure` draws)."""
    beats = piece.bpm / 60.0
    notes = played_notes(piece.messages)
    out = []
    for track, channel in zip(piece.info.tracks, piece.info.channels):
        mine = [n for n in notes if n.channel == channel]
        programs = tuple((t * beats, m.program) for t, m in piece.messages
                         if m.type == "program_change" and m.channel == channel)
        out.append(Lane(track.name, track.is_drum, channel,
                        np.array([n.start * beats for n in mine], dtype=float),
                        np.array([(n.end - n.start) * beats for n in mine], dtype=float),
                        np.array([n.pitch for n in mine], dtype=int),
                        np.array([n.velocity for n in mine], dtype=int), programs))
    return out


def figure(piece: Piece, dpi: int = 100):
    """A matplotlib Figure of the piece (no pyplot: safe in any thread, no window)."""
    from matplotlib.figure import Figure

    tracks = lanes(piece)
    n_bars, bpb = len(piece.bars), piece.info.beats_per_bar
    width = float(np.clip(2.5 + 0.6 * n_bars, 8.0, 60.0))
    fig = Figure(figsize=(width, 1.0 + 1.9 * len(tracks)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(tracks) + 1, 1, sharex=True, gridspec_kw={"height_ratios": [0.55] + [2.0] * len(tracks)})
    fig.suptitle(f"{piece.title}: {n_bars} bars at {piece.bpm:g} BPM", fontsize=11, x=0.01, ha="left")
    _mood_strip(axes[0], piece)
    for k, (ax, lane) in enumerate(zip(axes[1:], tracks)):
        _lane(ax, lane, LANE_COLOURS[k % len(LANE_COLOURS)], piece)
    _time_axis(axes[-1], n_bars, bpb)
    return fig


def save(piece: Piece, path: str | Path, dpi: int = 100) -> Path:
    """Draw ``piece`` and write it as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure(piece, dpi)
    FigureCanvasAgg(fig).print_png(str(path))
    return Path(path)


def _lane(ax, lane: Lane, colour: str, piece: Piece) -> None:
    from matplotlib.collections import PolyCollection

    x0, x1, y = lane.start, lane.start + lane.length, lane.pitch
    boxes = np.stack([np.stack([x0, y - 0.42], 1), np.stack([x1, y - 0.42], 1),
                      np.stack([x1, y + 0.42], 1), np.stack([x0, y + 0.42], 1)], 1) if len(y) else np.zeros((0, 4, 2))
    alpha = 0.3 + 0.7 * np.clip(lane.velocity / 127.0, 0, 1)
    rgba = np.zeros((len(y), 4))
    rgba[:] = _rgb(colour) + (1.0,)
    rgba[:, 3] = alpha
    ax.add_collection(PolyCollection(boxes, facecolors=rgba, edgecolors="none", gid=f"notes:{lane.name}"))
    low, high = (int(y.min()), int(y.max())) if len(y) else _model_range(piece)
    ax.set_ylim(low - 1.5, high + 1.5)
    ticks = _pitch_ticks(lane, low, high)
    ax.set_yticks(ticks, [GM_DRUMS.get(p, str(p)) if lane.is_drum else note_name(p) for p in ticks], fontsize=7)
    what = "drums, ch 10" if lane.is_drum else f"ch {lane.channel + 1}"
    if lane.programs and not lane.is_drum:
        what += ", " + program_label(lane.programs[0][1])
        for beat, program in lane.programs[1:]:
            ax.annotate(program_label(program), (beat, high + 1.4), fontsize=7, va="top", color="#444")
    ax.set_ylabel(f"{lane.name}\n({what})", fontsize=8, rotation=0, ha="right", va="center")
    ax.grid(axis="y", color="#eee", linewidth=0.5)


def _pitch_ticks(lane: Lane, low: int, high: int) -> list[int]:
    if lane.is_drum:
        used = sorted(set(lane.pitch.tolist()))
        return used if len(used) <= 14 else used[:: int(np.ceil(len(used) / 14))]
    if high - low <= 12:
        return list(range(low, high + 1, 2 if high - low > 6 else 1))
    ticks = [p for p in range(low, high + 1) if p % 12 in (0, 7)]
    return sorted({low, high, *(p for p in ticks if min(p - low, high - p) > 2)})


def _model_range(piece: Piece) -> tuple[int, int]:
    return piece.info.lowest_pitch, piece.info.lowest_pitch + piece.info.n_pitches - 1


def _mood_strip(ax, piece: Piece) -> None:
    """One cell per bar: colour from valence, height from arousal; the mood written at each change."""
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    bpb = piece.info.beats_per_bar
    cmap = colormaps["coolwarm"]
    for i, mood in enumerate(piece.moods):
        height = 0.35 + 0.3 * (mood.arousal + 1)  # 0.35 (calm) .. 0.95 (excited)
        ax.add_patch(Rectangle((i * bpb, 0), bpb, height, facecolor=cmap((mood.valence + 1) / 2), edgecolor="white",
                               linewidth=0.8))
    beats_per_char = 0.55 / 72 * len(piece.moods) * bpb / (ax.figure.get_figwidth() - 1.8)  # per point of font size
    free = {"name": -1.0, "point": -1.0}  # where each row of labels is free again, in beats
    for k, (i, mood) in enumerate(changes := piece.changes()):
        named = k == 0 or mood.name != changes[k - 1][1].name
        settled = i + 1 >= len(piece.moods) or piece.moods[i + 1] == mood
        point = f"v{mood.valence:+.1f} a{mood.arousal:+.1f}"
        if named:  # above the strip: the preset's name (and its point once the glide settles)
            text = f"{mood.name}  {point}" if settled else f"{mood.name} ..."
            row, y, size, kw = "name", 1.02, 8, {"fontweight": "bold", "va": "bottom"}
        elif settled:  # in the strip: where a glide arrives
            text, row, y, size, kw = point, "point", 0.06, 7, {"va": "bottom", "color": "#222"}
        else:
            continue
        if i * bpb >= free[row]:
            ax.text(i * bpb + 0.15, y, text, fontsize=size, ha="left", clip_on=False, **kw)
            free[row] = i * bpb + (len(text) + 2) * beats_per_char * size
    ax.set_ylim(0, 1.0)
    ax.set_yticks([])
    ax.set_ylabel("mood\n(colour: valence,\nheight: arousal)", fontsize=7, rotation=0, ha="right", va="center")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _time_axis(ax, n_bars: int, bpb: int) -> None:
    """x in beats: a numbered tick and a dark line at every bar, light lines at beats."""
    step = max(1, int(np.ceil(n_bars / 32)))
    ax.set_xlim(0, n_bars * bpb)
    ax.set_xticks([i * bpb for i in range(0, n_bars, step)], [str(i + 1) for i in range(0, n_bars, step)])
    ax.set_xticks(np.arange(0, n_bars * bpb + 1), minor=True)
    ax.set_xlabel("bar (thin lines: beats)", fontsize=8)
    for other in ax.figure.axes[1:]:
        other.vlines(np.arange(n_bars + 1) * bpb, 0, 1, transform=other.get_xaxis_transform(), colors="#999",
                     linewidth=0.6, zorder=0)
        other.grid(axis="x", which="minor", color="#e4e4e4", linewidth=0.4)
        other.tick_params(axis="x", which="both", length=0)


def _rgb(colour: str) -> tuple[float, float, float]:
    return tuple(int(colour[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
