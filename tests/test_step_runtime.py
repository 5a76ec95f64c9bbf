"""Step models (runtime "step", e.g. the LSTM) and encoders: picked from the metadata, played bar by bar.

A step model predicts one step of the roll from the step before and a recurrent
state; the daemon carries that state from bar to bar, so what comes next continues
what was played. These run real ONNX Runtime on tiny graphs built with onnx's helper.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mido
import numpy as np
import pytest
from onnx_models import build_model, build_step_model, build_vae_pair, tiny_info

from livegan.cli import main
from livegan.errors import UserError
from livegan.generation.composer import make_composer
from livegan.generation.latent import LatentWalk, VariationWalk
from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import (
    OnnxEncoder,
    OnnxGenerator,
    OnnxStepGenerator,
    load_model,
    set_temperature,
)
from livegan.mood.controls import ControlMap
from livegan.mood.presets import Mood
from livegan.offline.render import Segment, render_piece
from livegan.ports.memory import MemoryOutput
from livegan.timing.clock import FakeClock

BRIGHT = Mood("bright", 0.8, 0.6)
CALM = Mood("calm", 0.3, -0.8)


@pytest.fixture(scope="module")
def step_path(tmp_path_factory) -> Path:
    return build_step_model(tmp_path_factory.mktemp("step") / "rnn.onnx", bias=-4.0)


@pytest.fixture()
def step(step_path) -> OnnxStepGenerator:
    return load_model(step_path)


def noise(generator, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s.name: rng.standard_normal((n, *s.shape), dtype=np.float32) for s in generator.latents}


def test_the_runtime_is_read_from_the_metadata_not_from_a_flag(step_path, tmp_path):
    assert isinstance(load_model(step_path), OnnxStepGenerator)
    assert isinstance(load_model(build_model(tmp_path / "phrase.onnx")), OnnxGenerator)
    with pytest.raises(UserError, match=r"rnn.onnx' does not fit .* it is a 'step' model; load it with"):
        OnnxGenerator(step_path)


def test_a_step_model_makes_a_phrase_of_notes_that_are_on_or_off(step):
    roll = step.generate(noise(step, 3), np.array([[0, -1], [0, 0], [0, 1]], np.float32))
    assert roll.shape == (3, *step.info.roll_shape)
    assert set(np.unique(roll)) <= {0.0, 1.0}
    density = roll.mean(axis=(1, 2, 3, 4))
    assert density[0] < density[1] < density[2]  # the tiny model's arousal lifts every note


def test_the_same_noise_gives_the_same_notes_and_other_noise_other_notes(step):
    mood = np.array([[0.5, 0.5]], np.float32)
    a, b = step.generate(noise(step, 1, seed=1), mood), step.generate(noise(step, 1, seed=1), mood)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, step.generate(noise(step, 1, seed=2), mood))


def test_bars_made_one_at_a_time_equal_the_phrase_made_at_once(step):
    mood = np.array([[0.2, 0.4]], np.float32)
    latents = noise(step, 1, seed=3)
    whole, end = step.continue_bars(latents, mood)
    context, bars = step.start(1), []
    spb = step.info.steps_per_bar
    for k in range(step.info.bars):
        part = {"noise": latents["noise"][:, k * spb:]}
        bar, context = step.continue_bars(part, mood, context, bars=1)
        bars.append(bar)
    assert np.array_equal(np.concatenate(bars, axis=2), whole)
    assert np.allclose(context.state, end.state) and np.array_equal(context.frame, end.frame)


def test_listening_to_music_changes_what_comes_next(step):
    mood = np.array([[0.0, 0.0]], np.float32)
    latents = noise(step, 1, seed=4)
    heard = np.zeros((1, len(step.info.tracks), 16, step.info.n_pitches), bool)
    heard[0, 1, :, 12] = True  # a held C in the piano track
    after_silence, _ = step.continue_bars(latents, mood, bars=1)
    after_music, _ = step.continue_bars(latents, mood, step.listen(heard, mood), bars=1)
    assert not np.array_equal(after_silence, after_music)
    assert after_music[0, 1, 0, 0, 12] == 1.0  # the tiny model holds the note it heard


def test_temperature_below_one_plays_the_likely_notes_above_one_the_unlikely(step):
    mood = np.array([[0.0, 0.0]] * 8, np.float32)
    latents = noise(step, 8, seed=5)
    counts = {}
    for t in (0.3, 1.0, 3.0):
        set_temperature(step, t)
        counts[t] = step.generate(latents, mood).sum()
    assert counts[0.3] < counts[1.0] < counts[3.0]  # the tiny model's notes are unlikely (bias -4)


def test_temperature_on_a_phrase_model_is_one_line_that_says_what_to_use(tmp_path):
    with pytest.raises(UserError, match=r"--temperature applies to step \(LSTM\) and infill \(Coconet\) models.* use --threshold instead"):
        set_temperature(load_model(build_model(tmp_path / "m.onnx")), 0.5)


def test_a_step_model_missing_a_contract_input_is_refused_naming_it(tmp_path):
    info = tiny_info(latent_size=16, runtime="step")
    path = build_step_model(tmp_path / "bad.onnx", replace(info, steps_per_beat=2))  # position is 8 wide
    import onnx

    model = onnx.load(str(path))
    model.metadata_props[0].value = info.to_json()  # but the metadata says 16 steps a bar
    onnx.save(model, str(path))
    with pytest.raises(UserError, match=r"bad.onnx' does not fit .*'position' must be float32 \[N, 16\]"):
        load_model(path)


def test_a_note_a_step_model_holds_on_over_the_bar_line_is_a_tie_and_after_silence_nothing_is(step):
    from livegan.generation.bar import Morph
    from livegan.generation.runtimes import StepRuntime

    heard = np.zeros((1, len(step.info.tracks), 16, step.info.n_pitches), bool)
    heard[0, 1, :, 12] = True  # a held C in the piano track, sounding at the bar line
    still = Mood("still", 0.0, 0.0)
    runtime = StepRuntime(step, walk=LatentWalk(step.latents, seed=0, step=0.35), guide=None, threshold=None)
    morph = Morph(0, still, still, 0, 0)
    bar = runtime.make_after(0, morph, step.listen(heard, np.array([still.point], np.float32))).bars[0]
    tied = [(n.track, n.start, n.pitch) for n in (bar.score[i] for i in bar.tied)]
    assert (1, 0, step.info.lowest_pitch + 12) in tied and all(start == 0 for _, start, _ in tied)
    assert not runtime.make_after(0, morph, step.start(1)).bars[0].tied


def test_the_composer_carries_a_step_models_state_from_bar_to_bar(step):
    """Live bars equal one continuous sampling of the model: no bar starts from scratch."""
    composer = make_composer(step, mood_now=lambda: (0, BRIGHT), seed=7, lookahead=1, background=False)
    live = [composer.take(i) for i in range(4)]
    rendered = render_piece(step, [Segment(BRIGHT)], 4, seed=7).bars
    assert [b.notes for b in live] == [b.notes for b in rendered]
    walk, point = LatentWalk(step.latents, seed=7, step=0.35), np.array([BRIGHT.point], np.float32)
    context, continued, restarted = step.start(1), [], []
    for i in range(4):
        bar, context = step.continue_bars(walk.phrase(i), point, context, bars=1)
        continued.append(len(_notes_of(bar, step)))
        restarted.append(step.continue_bars(walk.phrase(i), point, bars=1)[0])
    assert [len(b.notes) for b in live] == continued and sum(continued) > 10
    assert any(len(b.notes) != len(_notes_of(r, step)) for b, r in zip(live[1:], restarted[1:]))


def test_a_mood_switch_remakes_the_bars_ahead_from_the_bar_that_was_played(step):
    mood = {"now": (0, BRIGHT)}
    composer = make_composer(step, mood_now=lambda: mood["now"], seed=8, latent_step=0.35, lookahead=2, background=False)
    first = composer.take(0)
    mood["now"] = (1, CALM)
    second = composer.take(1)
    assert first.mood == BRIGHT and second.mood == CALM
    # Bar 1 in the new mood continues bar 0 as it was played: the same as sampling them in a row.
    walk = LatentWalk(step.latents, seed=8)
    _, after_first = step.continue_bars(walk.phrase(0), np.array([BRIGHT.point], np.float32), bars=1)
    expected, _ = step.continue_bars(walk.phrase(1), np.array([CALM.point], np.float32), after_first, bars=1)
    assert len(second.notes) == len(_notes_of(expected, step))
    assert [on.pitch for on, _ in second.notes] == [n.pitch for n in _notes_of(expected, step)]


def _notes_of(roll: np.ndarray, step) -> list:
    from livegan.music.perform import phrase_notes

    return phrase_notes(roll[0], replace(step.info, bars=1), step.info.threshold)


def test_a_step_model_streams_through_the_daemons_session_and_every_note_ends(step):
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    session = LiveSession(step, [BRIGHT, CALM], ControlMap(), port, clock,
                          SessionOptions(bpm=150, seed=9, background=False, guide=4))
    session.run(bars=6)
    sounding, pairs = {}, []  # each note-on paired with the next note-off of its channel and pitch
    for t, m in port.sent:
        key = (getattr(m, "channel", None), getattr(m, "note", None))
        if m.type == "note_on" and m.velocity:
            assert key not in sounding, f"note-on {key} at {t} while it already sounds"
            sounding[key] = t
        elif m.type == "note_off" or (m.type == "note_on" and not m.velocity):
            if key in sounding:
                pairs.append((sounding.pop(key), t))
    assert len(pairs) > 20 and not sounding  # every note-on got its own note-off
    assert all(off > on for on, off in pairs)


# -- encoders and clips ---------------------------------------------------------------------


def write_clip(path: Path, parts: list[list[tuple[int, int]]], tpb: int = 96) -> Path:
    """One MIDI track per part; a part is (pitch, beats) notes played one after the other."""
    midi = mido.MidiFile(ticks_per_beat=tpb)
    for channel, part in enumerate(parts):
        track = mido.MidiTrack()
        for pitch, beats in part:
            track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=90, time=0))
            track.append(mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=beats * tpb))
        midi.tracks.append(track)
    midi.save(path)
    return path


def test_a_vae_encodes_a_clip_and_its_variations_start_from_it(tmp_path):
    vae = load_model(build_vae_pair(tmp_path / "vae.onnx"))
    encoder = OnnxEncoder(vae)
    roll = np.zeros((1, *vae.info.roll_shape), np.float32)
    roll[0, 1, 0, :, 10] = 1.0
    z = encoder.encode(roll, np.zeros((1, 2), np.float32))
    assert z.shape == (1, vae.info.latent_size) and np.abs(z).sum() > 0
    walk = VariationWalk({"z": z}, seed=1, spread=0.5)
    assert np.array_equal(walk.phrase(0)["z"], z)  # the piece opens with the clip as the model hears it
    assert np.array_equal(walk.phrase(3)["z"], VariationWalk({"z": z}, seed=1, spread=0.5).phrase(3)["z"])
    distance = np.linalg.norm(walk.phrase(2)["z"] - z)
    assert 0.5 * np.sqrt(z.size) * 0.5 < distance < 0.5 * np.sqrt(z.size) * 1.5


def test_a_model_without_an_encoder_cannot_vary_a_clip_and_says_what_can(tmp_path):
    with pytest.raises(UserError, match=r"has no encoder, so it cannot vary a clip; use a VAE model, or a step model"):
        OnnxEncoder(load_model(build_model(tmp_path / "gan.onnx")))


def test_an_encoder_missing_beside_its_model_is_named(tmp_path):
    path = build_vae_pair(tmp_path / "vae.onnx")
    path.with_name("vae.encoder.onnx").unlink()
    with pytest.raises(UserError, match=r"names its encoder 'vae.encoder.onnx', which is not beside it"):
        OnnxEncoder(load_model(path))


def test_a_clip_with_as_many_parts_as_the_model_has_voices_maps_them_in_file_order(tmp_path):
    from livegan.music.clip import read_clip

    info = tiny_info()  # Drums, Piano, Bass: two melodic tracks
    clip = read_clip(write_clip(tmp_path / "two.mid", [[(60, 4), (62, 4)], [(48, 8)]]), info)
    assert clip.bars == 2 and clip.notes == 3
    piano, bass = clip.roll[1], clip.roll[2]
    assert piano[:16, 60 - 48].all() and piano[16:, 62 - 48].all() and piano.sum() == 32
    assert bass[:, 0].all() and bass.sum() == 32 and not clip.roll[0].any()


def test_a_chordal_clip_is_dealt_out_by_pitch_and_pitches_fold_into_the_window(tmp_path):
    from livegan.music.clip import read_clip

    info = tiny_info()
    midi = mido.MidiFile(ticks_per_beat=4)
    track = mido.MidiTrack()
    for pitch in (60, 64, 103):  # three notes for two voices; 103 lies above the window (48..71)
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=16))
    track.append(mido.Message("note_off", note=64, velocity=0, time=0))
    track.append(mido.Message("note_off", note=103, velocity=0, time=0))
    midi.tracks.append(track)
    midi.save(tmp_path / "chord.mid")
    clip = read_clip(tmp_path / "chord.mid", info)
    top = np.flatnonzero(clip.roll[1, 0])
    low = np.flatnonzero(clip.roll[2, 0])
    assert list(top) == [103 - 36 - 48]  # G7 moves down three octaves to G4, the top voice
    assert list(low) == [60 - 48]  # the bass keeps the lowest note; the E between them has no voice left


@pytest.mark.parametrize("content, message", [
    (None, r"clip '.*nope.mid' does not exist: pass a MIDI file"),
    (b"not midi", r"clip '.*nope.mid' is not a readable MIDI file"),
    (b"", r"clip '.*nope.mid' is not a readable MIDI file"),
])
def test_a_bad_clip_is_one_line_naming_the_file(tmp_path, content, message):
    from livegan.music.clip import read_clip

    path = tmp_path / "nope.mid"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_clip(path, tiny_info())


def test_an_empty_clip_says_what_to_do(tmp_path):
    from livegan.music.clip import read_clip

    with pytest.raises(UserError, match=r"holds no notes: record or draw a few bars"):
        read_clip(write_clip(tmp_path / "empty.mid", []), tiny_info())


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of ``livegan ARGS`` run in this process."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_render_continue_varies_a_clip_with_a_vae(tmp_path, capsys, caplog):
    caplog.set_level("INFO", logger="livegan")
    model = build_vae_pair(tmp_path / "vae.onnx")
    clip = write_clip(tmp_path / "clip.mid", [[(72, 2)] * 8, [(48, 4)] * 4])
    out = tmp_path / "var.mid"
    code, err = run_cli(["render", "--model", str(model), "--continue", str(clip), "--seed", "1", "--bars", "8",
                         "-o", str(out)], capsys)
    assert code == 0, err
    assert "varying" in caplog.text and mido.MidiFile(out).length > 0
    again = tmp_path / "again.mid"
    run_cli(["render", "--model", str(model), "--continue", str(clip), "--seed", "1", "--bars", "8", "-o", str(again)], capsys)
    assert out.read_bytes() == again.read_bytes()
    plain = tmp_path / "plain.mid"
    run_cli(["render", "--model", str(model), "--seed", "1", "--bars", "8", "-o", str(plain)], capsys)
    assert plain.read_bytes() != out.read_bytes()  # the clip, not the seed's walk, sets the material


def test_render_continue_carries_on_from_a_clip_with_a_step_model(tmp_path, capsys, caplog, step_path):
    caplog.set_level("INFO", logger="livegan")
    clip = write_clip(tmp_path / "clip.mid", [[(60, 4)] * 4, [(48, 8)] * 2])
    out = tmp_path / "cont.mid"
    code, err = run_cli(["render", "--model", str(step_path), "--continue", str(clip), "--seed", "2", "--bars", "4",
                         "--temperature", "0.8", "-o", str(out)], capsys)
    assert code == 0, err
    assert "continuing" in caplog.text
    plain = tmp_path / "plain.mid"
    run_cli(["render", "--model", str(step_path), "--seed", "2", "--bars", "4", "--temperature", "0.8",
             "-o", str(plain)], capsys)
    assert plain.read_bytes() != out.read_bytes()


@pytest.mark.parametrize("kind, extra, message", [
    ("gan", ["--continue", "{clip}"], r"gan.onnx' \(test-linear\) has no encoder, so it cannot vary a clip"),
    ("gan", ["--temperature", "0.5"], r"--temperature applies to step \(LSTM\) and infill"),
    ("vae", ["--continue", "{missing}"], r"clip '.*missing.mid' does not exist"),
])
def test_render_refuses_what_a_model_cannot_do_in_one_line_with_exit_2(tmp_path, capsys, kind, extra, message):
    model = build_model(tmp_path / "gan.onnx") if kind == "gan" else build_vae_pair(tmp_path / "vae.onnx")
    clip = write_clip(tmp_path / "clip.mid", [[(60, 4)]])
    args = [a.format(clip=clip, missing=tmp_path / "missing.mid") for a in extra]
    code, err = run_cli(["render", "--model", str(model), "--bars", "2", "-o", str(tmp_path / "x.mid"), *args], capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and "Traceback" not in err
    import re

    assert re.search(message, lines[0])
