"""``livegan render``: the daemon's notes, offline, to a MIDI file that DAWs and music21 read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import pytest

from livegan.cli import main
from livegan.errors import UserError
from livegan.generation.composer import make_composer
from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import OnnxGenerator
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood, load_moods
from livegan.offline.render import (
    MoodSchedule,
    Segment,
    custom_mood,
    parse_schedule,
    render_piece,
    schedule_length,
)
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import FakeClock

PRESETS = load_moods()
BRIGHT = Mood("bright", 0.8, 0.6, velocity=100, dynamics=10)
DARK = Mood("dark", -0.6, -0.5, velocity=50, dynamics=10, programs={"Piano": 48})
MOODS_TOML = """
[[mood]]
name = "bright"
valence = 0.8
arousal = 0.6

[[mood]]
name = "dark"
valence = -0.6
arousal = -0.5
programs = { Piano = 48 }
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from onnx_models import build_model

    return build_model(tmp_path_factory.mktemp("model") / "tiny.onnx", bias=-3.0)


@pytest.fixture(scope="module")
def generator(model) -> OnnxGenerator:
    return OnnxGenerator(model)


def names(moods: list[Mood]) -> list[str]:
    return [m.name for m in moods]


def test_a_schedule_names_presets_and_their_bars():
    segments = parse_schedule("uplifting:8, Bittersweet:8", PRESETS)
    assert [(s.mood.name, s.bars) for s in segments] == [("uplifting", 8), ("bittersweet", 8)]
    assert schedule_length(segments, None) == 16
    assert schedule_length(parse_schedule("meditation", PRESETS), None) == 16  # the default length
    schedule = MoodSchedule(segments)
    asked = []
    for bar in range(20):
        schedule.reach(bar)
        asked.append(schedule.mood_now())
    assert [(v, m.name) for v, m in asked] == [(0, "uplifting")] * 8 + [(1, "bittersweet")] * 12  # the last mood holds


@pytest.mark.parametrize("text, message", [
    ("uplifting,bittersweet:8", r"'uplifting' needs its length in bars"),
    ("uplifting:0", r"whole number of bars >= 1"),
    ("uplifting:x", r"whole number of bars"),
    ("gloomy:4", r"unknown mood 'gloomy': choose one of uplifting"),
    (",", r"empty mood name"),
])
def test_a_bad_schedule_is_one_line_naming_the_part(text, message):
    with pytest.raises(UserError, match=message):
        parse_schedule(text, PRESETS)


def test_a_schedule_longer_than_the_piece_is_refused():
    with pytest.raises(UserError, match="needs 16 bars or more, but --bars is 8"):
        schedule_length(parse_schedule("uplifting:8,bittersweet:8", PRESETS), 8)


def test_a_mood_change_glides_over_morph_bars_like_the_daemons(generator):
    moods = render_piece(generator, [Segment(BRIGHT, 2), Segment(DARK, 4)], 6, seed=1, morph_bars=3).moods
    assert names(moods) == ["bright", "bright", "bright", "dark", "dark", "dark"]  # names switch half-way
    valence = [m.valence for m in moods]
    assert valence[:2] == [0.8, 0.8] and valence[-2:] == [-0.6, -0.6]
    assert valence[1] > valence[2] > valence[3] > valence[4]


def test_a_custom_point_is_played_in_the_style_of_the_nearest_preset():
    mood = custom_mood(PRESETS, -0.4, -0.2)
    assert (mood.name, mood.point, mood.velocity) == ("bittersweet", (-0.4, -0.2), 68)


def test_rendered_bars_are_the_bars_a_composer_takes_whatever_its_lookahead(generator):
    composer = make_composer(generator, mood_now=lambda: (0, BRIGHT), seed=5, guide=8, lookahead=1, background=False)
    live = [composer.take(i) for i in range(6)]
    rendered = render_piece(generator, [Segment(BRIGHT)], 6, seed=5, guide=8, lookahead=3).bars
    assert [b.notes for b in rendered] == [b.notes for b in live]
    assert sum(len(b.notes) for b in rendered) > 50


@pytest.mark.parametrize("guide, morph", [(1, 0), (8, 0), (8, 2)])
def test_a_render_sends_exactly_what_the_daemon_sends(generator, guide, morph):
    """Message for message, with guidance and a morph, as the session plays on a fake clock."""
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    session = LiveSession(generator, [BRIGHT], ControlMap(), port, clock,
                          SessionOptions(bpm=150, seed=9, background=False, preroll=0.5, guide=guide, morph_bars=morph))
    session.run(bars=5)
    t0 = session.transport.time_of(0.0)
    live = [(round(t - t0, 9), m) for t, m in port.sent if t >= t0]
    piece = render_piece(generator, [Segment(BRIGHT)], 5, seed=9, bpm=150, guide=guide, morph_bars=morph)
    assert [(round(t, 9), m) for t, m in piece.messages] == live
    assert piece.seconds == pytest.approx(5 * 4 * 60 / 150)


def test_guidance_changes_what_a_render_plays(generator):
    plain = render_piece(generator, [Segment(BRIGHT)], 4, seed=9, guide=1)
    guided = render_piece(generator, [Segment(BRIGHT)], 4, seed=9, guide=8)
    assert [b.notes for b in plain.bars] != [b.notes for b in guided.bars]


def test_the_same_seed_renders_the_same_file_and_another_seed_another(generator):
    segments = parse_schedule("uplifting:2,bittersweet:2", PRESETS)
    first = render_piece(generator, segments, 4, seed=3, morph_bars=1).to_smf()
    assert render_piece(generator, segments, 4, seed=3, morph_bars=1).to_smf() == first
    assert render_piece(generator, segments, 4, seed=4, morph_bars=1).to_smf() != first


def test_a_mood_that_changes_instrument_sends_the_program_change_at_its_first_bar(generator):
    piece = render_piece(generator, [Segment(BRIGHT, 2), Segment(DARK)], 4, seed=1, bpm=120)
    programs = [(t, m.channel, m.program) for t, m in piece.messages if m.type == "program_change"]
    assert programs == [(0.0, 0, 0), (0.0, 1, 33), (4.0, 0, 48)]  # Piano -> 48 at bar 3 (2 s per bar)


def test_render_writes_a_midi_file_mido_and_music21_read_with_the_right_parts(tmp_path, model):
    out = tmp_path / "piece.mid"
    moods = tmp_path / "moods.toml"
    moods.write_text(MOODS_TOML)
    main(["render", "-o", str(out), "--model", str(model), "--moods", str(moods), "--mood", "bright:2,dark:2",
          "--seed", "7", "--bpm", "100"])

    mf = mido.MidiFile(out)
    assert [t.name for t in mf.tracks] == ["LiveGAN tiny.onnx, seed 7", "Drums", "Piano", "Bass"]
    assert mf.length == pytest.approx(4 * 4 * 60 / 100)
    channels = [{m.channel for m in t if not m.is_meta} for t in mf.tracks[1:]]
    assert channels == [{9}, {0}, {1}]
    programs = [[m.program for m in t if m.type == "program_change"] for t in mf.tracks[1:]]
    assert programs == [[], [0, 48], [33]]  # GM drums need none; dark's piano becomes strings (48)
    markers = [m.text for m in mf.tracks[0] if m.type == "marker"]
    assert markers[0].startswith("bar 1: bright") and markers[1].startswith("bar 3: dark")

    music21 = pytest.importorskip("music21")
    score = music21.converter.parse(str(out), quantizePost=False)
    assert [p.partName for p in score.parts] == ["Drums", "Piano", "Bass"]
    assert score.highestTime == pytest.approx(16.0)  # 4 bars of 4/4, in quarter notes
    drums, piano, bass = score.parts
    assert all(isinstance(n, (music21.note.Unpitched, music21.percussion.PercussionChord)) for n in drums.recurse().notes)
    piano_programs = [i.midiProgram for i in piano.recurse().getElementsByClass(music21.instrument.Instrument)]
    assert piano_programs[0] == 0 and piano_programs[-1] == 48
    assert 33 in [i.midiProgram for i in bass.recurse().getElementsByClass(music21.instrument.Instrument)]
    assert len(piano.recurse().notes) > 5
    assert str(score.recurse().getElementsByClass(music21.meter.TimeSignature)[0].ratioString) == "4/4"


def test_render_refuses_mixed_mood_options_in_one_line(tmp_path, model, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["render", "-o", str(tmp_path / "x.mid"), "--model", str(model), "--mood", "uplifting",
              "--valence", "0.1", "--arousal", "0.2"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "livegan: error: pass either --mood or --valence/--arousal, not both"


def test_a_plain_render_imports_neither_fluidsynth_nor_matplotlib_nor_torch(tmp_path, model):
    code = ("import sys; from livegan.cli import main; "
            f"main(['render', '-o', {str(tmp_path / 'x.mid')!r}, '--model', {str(model)!r}, '--bars', '2', '--seed', '1']); "
            "print(sorted(m for m in ('fluidsynth', 'matplotlib', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert "rendered 2 bars" in result.stderr
