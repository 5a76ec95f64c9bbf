"""The infilling model of four voices (Coconet): training, export to the "infill" contract, Gibbs sampling, the runtime."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from livegan.export.onnx import export_onnx
from test_training_helpers import VOICE_GRID, tiny_config, tiny_dataset, tiny_voice_dataset

from livegan.cli import main
from livegan.errors import UserError
from livegan.generation.bar import Morph
from livegan.generation.gibbs import Schedule, gibbs
from livegan.generation.infill import InfillRuntime, VoiceContext
from livegan.model.engine import OnnxInfillGenerator, load_model
from livegan.mood.presets import Mood
from livegan.music.voices import REST, n_classes, to_classes
from livegan.training.loop.checkpoint import load_checkpoint
from livegan.training.loop.train import train
from livegan.training.nets.coconet import draw_masks

P = VOICE_GRID.n_pitches
BRIGHT, DARK = Mood("bright", 0.8, 0.4), Mood("dark", -0.8, -0.4)


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    return tiny_voice_dataset(tmp_path_factory.mktemp("voices") / "v.npz")


@pytest.fixture(scope="module")
def trained(voices, tmp_path_factory):
    """A tiny Coconet trained until it has learnt the tiny data's rule (a chord struck on the downbeat, then held)."""
    folder = tmp_path_factory.mktemp("coconet")
    config = tiny_config("coconet", steps=150, batch_size=8, lr_g=0.01, sample_every=1000, checkpoint_every=1000)
    return train(voices, config, folder / "run", progress=False)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> OnnxInfillGenerator:
    path = tmp_path_factory.mktemp("onnx") / "coconet.onnx"
    export_onnx(trained, path)
    return load_model(path)


def test_training_learns_that_a_note_between_two_beats_holds_what_sounds(trained, voices):
    from livegan.export.onnx import rebuild

    module, info = rebuild(trained)
    from livegan.music.dataset import load_phrases
    from livegan.training.data.batches import VoiceBatchSource
    from livegan.training.nets.coconet import meter_features, to_planes

    source = VoiceBatchSource(load_phrases(voices), 0, 0, held_out=0)
    pitch, onset, fermatas, mood = source.phrases(np.arange(6))
    mask = np.ones(pitch.shape, np.float32)
    mask[:, :, ::4] = 0.0  # each beat is known: the steps between hold the chord struck on the downbeat
    planes = to_planes(torch.from_numpy(pitch), torch.from_numpy(onset), P)
    meter = torch.from_numpy(np.stack([meter_features(64, VOICE_GRID, f) for f in fermatas]))
    mood_in = torch.from_numpy(np.concatenate([mood, np.ones((6, 1), np.float32)], 1))
    with torch.no_grad():
        guess = module(planes, torch.from_numpy(mask), meter, mood_in).argmax(-1).numpy()
    truth = to_classes(pitch, onset, P)
    unknown = mask > 0
    assert (guess[unknown] == truth[unknown]).mean() > 0.9, "the held pitch of each voice, between its beats"


def test_a_run_saves_its_checkpoint_and_resumes(voices, tmp_path):
    last = train(voices, tiny_config("coconet"), tmp_path / "run", progress=False)
    state, meta = load_checkpoint(last)
    assert int(state["step"]) == 4 and meta["config"]["arch"] == "coconet"
    assert (tmp_path / "run" / "samples" / "step_0000004.npz").is_file()
    again = train(voices, tiny_config("coconet", steps=6), tmp_path / "run", resume=True, progress=False)
    assert int(load_checkpoint(again)[0]["step"]) == 6


def test_a_dataset_without_voices_is_one_clear_error(tmp_path):
    data = tiny_dataset(tmp_path / "rolls.npz")
    with pytest.raises(UserError, match="no voices .*monophonic = true"):
        train(data, tiny_config("coconet"), tmp_path / "run", progress=False)


def test_the_tasks_masks_each_leave_something_to_make():
    rng = np.random.default_rng(0)
    masks = draw_masks(400, 4, 64, 16, rng)
    assert masks.shape == (400, 4, 64) and (masks.sum(axis=(1, 2)) > 0).all()
    next_bar = (masks[:, :, 48:] == 1).all(axis=(1, 2)) & (masks[:, :, :48] == 0).all(axis=(1, 2))
    whole_voices = ((masks == 1).all(axis=2) | (masks == 0).all(axis=2)).all(axis=1)
    assert next_bar.mean() > 0.15 and whole_voices.mean() > 0.1


def test_export_writes_the_infill_contract_with_monophonic_voices(exported):
    info = exported.info
    assert info.runtime == "infill" and all(t.monophonic for t in info.tracks) and info.iterations >= 1
    for bars in (1, 4):  # the time axis is free
        steps = bars * 16
        logits = exported.predict(np.zeros((2, 4, 2, steps, P + 1)), np.ones((2, 4, steps)), np.zeros((2, 9, steps)),
                                  np.zeros((2, 3)))
        assert logits.shape == (2, 4, steps, n_classes(P)) and np.isfinite(logits).all()


def test_gibbs_fills_only_the_unknown_cells_and_never_shows_the_hidden_ones():
    seen_masks = []

    def predict(notes, mask, meter, mood):
        seen_masks.append(mask.copy())
        logits = np.full((*mask.shape, n_classes(P)), -20.0, np.float32)
        logits[..., 7] = 0.0  # pitch 7, struck, everywhere
        return logits

    pitch = np.full((1, 2, 8), 3, np.int16)
    onset = np.ones((1, 2, 8), bool)
    unknown = np.zeros((1, 2, 8), bool)
    unknown[:, :, 2:4] = True
    hidden = np.zeros_like(unknown)
    hidden[:, :, 6:] = True
    out_pitch, out_onset = gibbs(predict, pitch, onset, unknown, np.zeros((1, 9, 8)), np.zeros((1, 3)), P,
                                 np.random.default_rng(0), Schedule(iterations=5), hidden=hidden)
    assert (out_pitch[unknown] == 7).all() and out_onset[unknown].all()
    assert (out_pitch[~unknown] == 3).all(), "known and hidden cells are left as they were"
    assert all((m[hidden] == 1).all() for m in seen_masks), "the model never sees the hidden cells"
    assert (seen_masks[0][unknown] == 1).all() and len(seen_masks) >= 2


def _runtime(model, seed=5, **kwargs) -> InfillRuntime:
    return InfillRuntime(model, seed=seed, **kwargs)


def test_each_bar_continues_the_bars_before_and_a_voice_sounds_one_pitch_at_a_time(exported):
    runtime = _runtime(exported)
    morph = Morph(0, BRIGHT, BRIGHT, 0, 0)
    context = runtime.opening
    for index in range(6):
        made = runtime.make_after(index, morph, context)
        context = made.contexts[index]
        bar = made.bars[index]
        assert context.bars == min(index + 1, exported.info.bars - 1)
        sounding: dict[int, list[tuple[float, float]]] = {}
        for on, off in bar.notes:
            sounding.setdefault(on.channel, []).append((on.time, off.time))
        for spans in sounding.values():
            spans.sort()
            assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:])), "no two notes of a voice overlap"
    assert context.pitch.shape == (4, (exported.info.bars - 1) * 16)


def test_the_same_seed_and_context_make_the_same_bar_and_a_new_mood_remakes_it(exported):
    context = VoiceContext.empty(4)
    a = _runtime(exported).make_after(3, Morph(0, BRIGHT, BRIGHT, 0, 0), context)
    b = _runtime(exported).make_after(3, Morph(0, BRIGHT, BRIGHT, 0, 0), context)
    c = _runtime(exported).make_after(3, Morph(1, DARK, DARK, 0, 0), context)
    assert a.bars[3].notes == b.bars[3].notes
    assert c.bars[3].mood == DARK and c.bars[3].version == 1


def test_render_plays_an_infill_model_reproducibly(exported, tmp_path, capsys):
    import mido

    outs = []
    for name in ("a.mid", "b.mid"):
        main(["render", "--model", str(exported.path), "--bars", "6", "--seed", "11", "-o", str(tmp_path / name)])
        outs.append([m for m in mido.MidiFile(tmp_path / name) if m.type in ("note_on", "note_off")])
    assert outs[0] == outs[1] and sum(m.type == "note_on" and m.velocity > 0 for m in outs[0]) > 10
    held: dict[int, int] = {}
    for m in outs[0]:
        if m.type == "note_on" and m.velocity:
            held[m.channel] = held.get(m.channel, 0) + 1
            assert held[m.channel] == 1, "a voice never sounds two notes at once"
        elif m.type in ("note_on", "note_off"):
            held[m.channel] -= 1


def test_rests_and_holds_decode_as_the_model_chose():
    from livegan.music.voices import from_classes, voices_to_notes

    classes = np.array([[5, P + 5, P + 5, 2 * P, 5, 5, P + 5, 2 * P]])
    pitch, onset = from_classes(classes, P)
    notes = voices_to_notes(pitch, onset, 36)
    assert [(n.start, n.end, n.pitch) for n in notes] == [(0, 3, 41), (4, 5, 41), (5, 7, 41)]
    assert pitch[0, 3] == REST


def test_a_given_melody_is_the_soprano_of_the_bar_and_the_model_fills_the_other_voices(exported):
    melody = ((0, 32, 36, 72), (0, 36, 40, 74), (0, 40, 48, 76))  # (voice, start, end, MIDI) in bar 2: C5 D5 E5
    mood = Mood("bright", 0.8, 0.4, given=melody)
    runtime = _runtime(exported)
    context = runtime.opening
    for index in range(3):
        made = runtime.make_after(index, Morph(0, mood, mood, 0, 0), context)
        context = made.contexts[index]
    soprano = [(n.start, n.end, n.pitch) for n in made.bars[2].score if n.track == 0]
    assert soprano == [(0, 4, 72), (4, 8, 74), (8, 16, 76)]
    assert any(n.track == 3 for n in made.bars[2].score), "the lower voices are the model's"


def test_a_silent_bar_plays_nothing_and_keeps_the_players_phrase_as_what_comes_next_continues(exported):
    call = ((0, 0, 8, 67), (0, 8, 16, 69))  # the player's G4 A4 in bar 0, as the soprano
    listening = Mood("bright", 0.8, 0.4, given=call, rests=((0, 1),))
    runtime = _runtime(exported)
    made = runtime.make_after(0, Morph(0, listening, listening, 0, 0), runtime.opening)
    assert made.bars[0].notes == [] and made.bars[0].score == ()
    after = made.contexts[0]
    lowest = exported.info.lowest_pitch
    assert after.pitch[0, 0] == 67 - lowest and after.onset[0, 8] and after.hidden[1:].all() and not after.hidden[0].any()
    answer = Mood("bright", 0.8, 0.4, given=call)
    reply = runtime.make_after(1, Morph(1, answer, answer, 1, 0), after)
    assert reply.bars[1].score and reply.contexts[1].bars == 2

def test_variation_goes_from_loop_like_to_restless_and_a_new_idea_starts_afresh(exported):
    def repeats(variation: float) -> float:
        """Share of cells a bar shares with the bar two before, over 8 bars."""
        runtime = _runtime(exported)
        mood = Mood("m", 0.8, 0.4, variation=variation)
        context, grids = runtime.opening, []
        for index in range(8):
            made = runtime.make_after(index, Morph(0, mood, mood, 0, 0), context)
            context = made.contexts[index]
            grids.append(context.pitch[:, -16:])
        return float(np.mean([(grids[i] == grids[i - 2]).mean() for i in range(2, 8)]))

    loop, own, restless = repeats(0.0), repeats(0.5), repeats(1.0)
    assert loop > 0.9 and loop > own >= restless - 0.05, (loop, own, restless)
    runtime = _runtime(exported)
    mood = Mood("m", 0.8, 0.4)
    context = runtime.make_after(0, Morph(0, mood, mood, 0, 0), runtime.opening).contexts[0]
    fresh = runtime.make_after(1, Morph(1, replace(mood, idea=1), replace(mood, idea=1), 1, 0), context)
    assert fresh.contexts[1].bars == 1 and fresh.contexts[1].idea == 1, "the new idea forgot the bar before"


def test_freeze_repeats_the_last_phrase_exactly_and_thawing_goes_on_from_where_the_music_was(exported):
    from livegan.generation.composer import make_composer

    mood = Mood("m", 0.8, 0.4)
    composer = make_composer(exported, mood_now=lambda: (0, mood), seed=3, background=False, lookahead=2)
    played = [composer.take(i) for i in range(6)]  # bars 0-5; bars 6 and 7 are made ahead
    ahead = composer._bars[6].notes
    composer.freeze(True)
    repeats = [composer.take(i) for i in range(6, 14)]
    assert [b.score for b in repeats] == [b.score for b in played[2:6]] * 2, "the last phrase, twice, exactly"
    assert [b.index for b in repeats] == list(range(6, 14))
    composer.freeze(False)
    after = composer.take(14)
    assert [(a.pitch, a.time) for a, _ in after.notes] == [(a.pitch, a.time) for a, _ in ahead], \
        "the bar that came next before the freeze"
    assert composer.take(15) is not None and composer.runtime.contexts.before(15).bars == 3
    composer.stop()


def _hurried(model, iterations=24) -> InfillRuntime:
    """A runtime whose model takes ``iterations`` passes a bar and a Gibbs pass 10 ms per bar of window here."""
    generator = copy.copy(model)
    generator.iterations = iterations
    runtime = _runtime(generator)
    runtime.pass_seconds = 0.01
    return runtime


def test_without_hurry_a_bar_has_the_models_passes_and_window_and_a_first_bar_a_window_of_two(exported):
    runtime = _hurried(exported)
    assert runtime.plan(0, None) == (min(2, exported.info.bars), 24)  # a first bar: itself and one hidden after
    assert runtime.plan(3, None) == (exported.info.bars, 24)
    assert runtime.plan(3, 60.0) == (exported.info.bars, 24)  # time enough: as a render makes it


def test_a_bar_wanted_soon_takes_the_most_passes_that_fit_in_a_window_of_two_bars(exported):
    runtime = _hurried(exported)
    window = min(2, exported.info.bars)
    assert runtime.plan(3, window * 12 * 0.01 + 0.001) == (window, 12)
    assert runtime.plan(3, window * 8 * 0.01 + 0.001) == (window, 8)
    assert runtime.plan(3, 0.0) == (window, 4)  # no time: the fewest passes, still a bar of the model's
    assert _hurried(exported, iterations=6).plan(3, 0.0) == (window, 4)
    assert _hurried(exported, iterations=3).plan(3, 0.0) == (window, 3)  # never more passes than the model's


def test_a_hurried_bar_is_the_same_for_the_same_seed_and_is_made_in_the_time_measured(exported):
    context = _runtime(exported).make_after(0, Morph(0, BRIGHT, BRIGHT, 0, 0), VoiceContext.empty(4)).contexts[0]
    a, b = _hurried(exported), _hurried(exported)
    made = [r.make_after(1, Morph(0, BRIGHT, BRIGHT, 0, 0), context, budget=0.09) for r in (a, b)]
    assert a.last_plan == (min(2, exported.info.bars), 4)
    assert made[0].bars[1].notes == made[1].bars[1].notes
    assert a.pass_seconds != 0.01  # what the bar took here is what the next plan counts on


def test_a_bar_is_abandoned_between_passes_once_it_is_no_longer_wanted(exported):
    from livegan.generation.bar import Cancelled

    asked = []

    def stop() -> bool:
        asked.append(True)
        return len(asked) == 3

    runtime = _hurried(exported, iterations=8)
    with pytest.raises(Cancelled):
        runtime.make_after(1, Morph(0, BRIGHT, BRIGHT, 0, 0), VoiceContext.empty(4), stop=stop)
    assert len(asked) == 3  # asked before passes 2, 3 and 4, and nothing after
    kept = runtime.make_after(1, Morph(0, BRIGHT, BRIGHT, 0, 0), VoiceContext.empty(4), stop=lambda: False)
    plain = _hurried(exported, iterations=8).make_after(1, Morph(0, BRIGHT, BRIGHT, 0, 0), VoiceContext.empty(4))
    assert kept.bars[1].notes == plain.bars[1].notes  # asking changes nothing in a bar that is wanted


def test_the_worker_makes_an_infill_models_first_bar_here_and_the_rest_as_one_process_would(exported):
    from livegan.generation.bar import Cancelled
    from livegan.generation.worker import ProcessRuntime, WorkerSpec

    morph = Morph(0, BRIGHT, BRIGHT, 0, 0)
    local = _runtime(exported, seed=9)
    expected = []
    for index in range(3):
        made = local.make(index, morph)
        local.keep({}, made, 0)
        expected.append(made.bars[index].notes)
    runtime = ProcessRuntime(WorkerSpec(exported.path), exported, seed=9)
    try:
        bars: dict = {}
        first = runtime.make(0, morph)
        assert not runtime._ready  # made here, while the worker process was starting
        runtime.keep(bars, first, 0)
        with pytest.raises(Cancelled):  # the worker abandons a bar the daemon no longer wants
            runtime.make(1, morph, stop=lambda: True)
        for index in (1, 2):
            runtime.keep(bars, runtime.make(index, morph, budget=60.0, stop=lambda: False), 0)
        assert runtime._ready
        assert [bars[i].notes for i in range(3)] == expected
    finally:
        runtime.close()
    assert not runtime._process.is_alive()


def test_a_bar_remade_while_it_plays_keeps_the_steps_played_and_makes_the_rest_to_follow_them(exported):
    runtime = _runtime(exported)
    bars: dict = {}
    for index in range(2):
        runtime.keep(bars, runtime.make(index, Morph(0, BRIGHT, BRIGHT, 0, 0)), 0)
    old = runtime.contexts.after(1)
    remade = runtime.make(1, Morph(1, DARK, DARK, 1, 0), keep=8)  # a switch on beat 3 of bar 2
    new = remade.contexts[1]
    steps = exported.info.steps_per_bar
    assert np.array_equal(new.pitch[:, -steps:][:, :8], old.pitch[:, -steps:][:, :8])
    assert np.array_equal(new.onset[:, -steps:][:, :8], old.onset[:, -steps:][:, :8])
    begun = lambda bar: sorted((n.start, n.pitch, n.track) for n in bar.score if n.start < 8)  # noqa: E731
    assert begun(remade.bars[1]) == begun(bars[1]) and begun(bars[1])  # the notes begun before beat 3: as they were
    whole = runtime.make(1, Morph(1, DARK, DARK, 1, 0))
    assert whole.bars[1].mood == DARK and remade.bars[1].mood == DARK


def test_an_answer_waits_for_a_bar_made_in_two_bars_of_window_not_the_models_four():
    from livegan.generation.infill import hurried_seconds

    from onnx_models import tiny_info

    four, two = tiny_info(bars=4), tiny_info(bars=2)
    assert hurried_seconds(0.8, four) == pytest.approx(0.4)  # a 2-bar window costs half a 4-bar one
    assert hurried_seconds(0.8, two) == pytest.approx(0.8)  # the model's window is already two bars


@pytest.mark.parametrize("legato", [1.0, 0.7])
def test_a_melody_note_held_over_the_bar_line_is_harmonized_as_one_note(exported, legato):
    from livegan.offline.render import Segment, render_piece

    melody = [(0, 8, 72), (8, 20, 74), (20, 32, 76)]  # D5 from beat 3 of bar 1 to beat 2 of bar 2
    piece = render_piece(exported, [Segment(Mood("m", 0.5, 0.0, legato=legato))], 2, seed=5, melody=melody)
    soprano = exported.info.channels[0]
    d5 = [(t / 0.125, m.type) for t, m in piece.messages if m.type in ("note_on", "note_off") and (m.channel, m.note) == (soprano, 74)]
    assert d5 == [(8, "note_on"), (pytest.approx(16 + 4 * legato), "note_off")]
    tied = [piece.bars[1].score[i] for i in piece.bars[1].tied]
    assert (0, 0, 74) in [(n.track, n.start, n.pitch) for n in tied]  # bar 2 holds it on: a tie, not a new note


def test_a_render_following_chords_looks_ahead_at_the_bar_it_then_plays(exported, monkeypatch):
    from livegan.generation.composer import Composer
    from livegan.music.chords import parse_chord
    from livegan.offline.render import Segment, render_piece

    seen = {}
    upcoming = Composer.upcoming

    def spy(self, index):
        seen[index] = upcoming(self, index)
        return seen[index]

    monkeypatch.setattr(Composer, "upcoming", spy)
    chords = [parse_chord(c) for c in "C G Am F".split()]
    piece = render_piece(exported, [Segment(Mood("m", 0.5, 0.0, legato=0.7))], 5, seed=3, chords=chords)
    assert set(seen) == {1, 2, 3, 4}  # each bar's ties are looked at before its line...
    assert all(seen[i] is piece.bars[i] for i in seen)  # ...in the bar that plays there, made for its chord
