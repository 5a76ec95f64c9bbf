"""Piano-roll PNGs: a picture of sane size whose drawn notes are the generated roll's notes."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from onnx_models import build_model

from livegan.generation.latent import LatentWalk
from livegan.model.engine import OnnxGenerator
from livegan.mood.presets import Mood
from livegan.music.perform import threshold_for
from livegan.music.roll import binarize, flatten_bars, roll_to_notes
from livegan.offline import pianoroll
from livegan.offline.render import Segment, render_piece

STRAIGHT = Mood("straight", 0.5, 0.2, swing=0.0, legato=1.0)  # notes sound exactly as long as the roll says
SWUNG = Mood("swung", -0.5, -0.3, swing=0.3, legato=0.6)


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> OnnxGenerator:
    return OnnxGenerator(build_model(tmp_path_factory.mktemp("model") / "tiny.onnx", bias=-3.0))


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def roll_notes(generator: OnnxGenerator, mood: Mood, seed: int, bars: int) -> set[tuple[int, int, int, float]]:
    """(track, start step, pitch, length in steps) straight from the model's output, thresholded."""
    info = generator.info
    walk = LatentWalk(generator.latents, seed=seed, step=0.35)
    drums = [t.is_drum for t in info.tracks]
    notes = set()
    for phrase in range(math.ceil(bars / info.bars)):
        probs = generator.generate(walk.phrase(phrase), np.array([mood.point], dtype=np.float32))[0]
        active = binarize(flatten_bars(probs), threshold_for(info, mood))
        offset = phrase * info.bars * info.steps_per_bar
        for n in roll_to_notes(active, info.lowest_pitch, drums):
            if n.start + offset < bars * info.steps_per_bar:
                notes.add((n.track, n.start + offset, n.pitch, 0.5 if drums[n.track] else float(n.length)))
    return notes


def plotted_notes(fig, piece) -> set[tuple[int, int, int, float]]:
    """(track, start step, pitch, length in steps) of the rectangles drawn in each lane."""
    spb = piece.info.steps_per_beat
    notes = set()
    for track, t in enumerate(piece.info.tracks):
        (collection,) = [c for ax in fig.axes for c in ax.collections if c.get_gid() == f"notes:{t.name}"]
        for path in collection.get_paths():
            xs, ys = path.vertices[:4, 0], path.vertices[:4, 1]
            notes.add((track, int(round(xs.min() * spb)), int(round(ys.mean())), round(float(np.ptp(xs) * spb), 6)))
    return notes


def test_the_notes_drawn_are_the_notes_of_the_generated_roll(generator):
    piece = render_piece(generator, [Segment(STRAIGHT)], 5, seed=11)  # 5 bars: two and a half 2-bar phrases
    drawn = plotted_notes(pianoroll.figure(piece), piece)
    assert drawn == roll_notes(generator, STRAIGHT, seed=11, bars=5)
    assert len(drawn) > 100


def test_lanes_show_what_was_played_with_swing_and_legato(generator):
    (_, piano, _) = pianoroll.lanes(render_piece(generator, [Segment(SWUNG)], 2, seed=4))
    steps = piano.start * 4  # 4 steps per beat
    offbeat = steps % 2 >= 1  # the second 16th of each 8th: swung late by 0.3 step
    assert offbeat.any() and np.allclose(steps[offbeat] % 1, 0.3) and np.allclose(steps[~offbeat] % 1, 0.0)
    assert piano.length.min() * 4 >= 0.25 - 1e-9  # perform's shortest note
    straight = render_piece(generator, [Segment(STRAIGHT)], 2, seed=4)
    assert piano.length.mean() < pianoroll.lanes(straight)[1].length.mean()  # legato 0.6 is shorter


def test_the_png_has_sane_dimensions_and_grows_with_the_piece(generator, tmp_path):
    short = pianoroll.save(render_piece(generator, [Segment(STRAIGHT, 4), Segment(SWUNG)], 8, seed=1), tmp_path / "short.png")
    long = pianoroll.save(render_piece(generator, [Segment(STRAIGHT)], 32, seed=1), tmp_path / "long.png")
    (w1, h1), (w2, h2) = png_size(short), png_size(long)
    assert 700 <= w1 <= 1200 and 400 <= h1 <= 1000  # a screen's worth for 8 bars
    assert w2 > 1.8 * w1 and h2 == h1  # longer pieces get wider, not taller


def test_each_bar_carries_its_mood_in_the_strip(generator):
    piece = render_piece(generator, [Segment(STRAIGHT, 2), Segment(SWUNG)], 4, seed=1)
    fig = pianoroll.figure(piece)
    strip = fig.axes[0]
    assert len(strip.patches) == 4  # one cell per bar
    texts = [t.get_text() for t in strip.texts]
    assert texts == ["straight  v+0.5 a+0.2", "swung  v-0.5 a-0.3"]
    colours = [p.get_facecolor() for p in strip.patches]
    assert colours[0] == colours[1] != colours[2] == colours[3]


def test_pitch_names_follow_scientific_pitch_and_gm_drums():
    assert [pianoroll.note_name(p) for p in (60, 61, 47, 127)] == ["C4", "C#4", "B2", "G9"]
    assert pianoroll.GM_DRUMS[36] == "Kick" and pianoroll.GM_DRUMS[42] == "Closed HH" and pianoroll.GM_DRUMS[81] == "Triangle"
    assert pianoroll.program_label(33) == "Finger Bass (34)" and len(pianoroll.GM_PROGRAMS) == 128
