"""Metrics, specified on hand-made rolls with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from livegan.evaluation import metrics as m
from livegan.model.contract import ModelInfo, Track
from livegan.music import analysis
from livegan.music.roll import roll_to_notes

LOW = 24  # MIDI note of pitch index 0 (C1), LiveGAN's default
C_MAJOR, F_SHARP_MAJOR, A_MINOR = (60, 64, 67), (66, 70, 73), (57, 60, 64)


def phrase(tracks: int = 1, bars: int = 1, steps: int = 16, pitches: int = 72) -> np.ndarray:
    """An empty phrase [tracks, bars, steps, pitches]."""
    return np.zeros((tracks, bars, steps, pitches), dtype=bool)


def hold(roll: np.ndarray, notes: tuple[int, ...], start: int, end: int, track: int = 0, low: int = LOW) -> np.ndarray:
    """Sound MIDI ``notes`` on ``track`` from step ``start`` to ``end`` (exclusive), counted across bars."""
    _, bars, steps, _ = roll.shape
    lane = roll[track].reshape(bars * steps, -1)  # a view: writes land in roll
    for note in notes:
        lane[start:end, note - low] = True
    return roll


# ---------------------------------------------------------------------------- intra-track


def test_an_empty_bar_counts_as_empty_and_a_silent_track_is_all_empty():
    roll = hold(phrase(tracks=2, bars=2), (60,), 0, 4)  # track 0 plays in bar 0 only
    np.testing.assert_allclose(m.empty_bar_rate(roll), [0.5, 1.0])


def test_a_held_c_major_triad_uses_three_pitch_classes():
    assert m.used_pitch_classes(hold(phrase(), C_MAJOR, 0, 16), LOW) == pytest.approx([3.0])


def test_octave_doublings_are_one_pitch_class_not_musegans_seven_semitone_groups():
    roll = hold(phrase(), (36, 48, 60, 72), 0, 16)  # four Cs
    assert m.used_pitch_classes(roll, LOW) == pytest.approx([1.0])
    roll = hold(phrase(), (60, 61, 62), 0, 16)  # three neighbours: one group under the (12, 7) bug
    assert m.used_pitch_classes(roll, LOW) == pytest.approx([3.0])


def test_pitch_classes_fold_by_midi_note_whatever_the_lowest_pitch():
    at_24 = hold(phrase(pitches=72), (60, 64, 67, 72), 0, 8, low=24)
    at_0 = hold(phrase(pitches=96), (60, 64, 67, 72), 0, 8, low=0)
    at_21 = hold(phrase(pitches=72), (60, 64, 67, 72), 0, 8, low=21)  # index 0 = A0, not a C
    for roll, low in ((at_0, 0), (at_21, 21)):
        assert m.used_pitch_classes(roll, low) == pytest.approx(m.used_pitch_classes(at_24, 24))
        assert analysis.analyse_mode(roll, low) == pytest.approx(analysis.analyse_mode(at_24, 24))
        np.testing.assert_allclose(analysis.beat_chroma(roll[0, 0], low, 4), analysis.beat_chroma(at_24[0, 0], 24, 4))


def test_upc_averages_over_non_empty_bars_only():
    roll = hold(hold(phrase(bars=3), C_MAJOR, 0, 16), (62,), 16, 32)  # 3 classes, then 1, then silence
    assert m.used_pitch_classes(roll, LOW) == pytest.approx([2.0])


def test_a_note_of_two_steps_is_not_qualified_at_three_and_one_of_three_is():
    roll = hold(hold(phrase(), (60,), 0, 2), (62,), 4, 7)
    assert m.qualified_note_rate(roll, min_steps=3) == pytest.approx([0.5])
    assert m.qualified_note_rate(roll, min_steps=2) == pytest.approx([1.0])
    assert m.qualified_note_rate(roll, min_steps=4) == pytest.approx([0.0])


def test_a_note_held_across_the_bar_line_is_one_note():
    roll = hold(phrase(bars=2), (60,), 14, 18)  # 2 steps in bar 0, 2 in bar 1
    assert m.qualified_note_rate(roll, min_steps=3) == pytest.approx([1.0])
    assert analysis.note_density(roll) == pytest.approx([0.5])


def test_the_papers_32nd_note_threshold_scales_with_the_grid():
    assert m.scaled_min_steps(96) == 3  # the paper: 3 steps = a 32nd note
    assert m.scaled_min_steps(48) == 2  # 1.5 steps, rounded up
    assert m.scaled_min_steps(16) == 1  # half a step: every note qualifies
    assert m.scaled_min_steps(16, 1 / 8) == 2  # an 8th note


def test_qualified_note_rate_is_nan_without_notes_and_rejects_a_zero_threshold():
    assert math.isnan(m.qualified_note_rate(phrase(), 3)[0])
    with pytest.raises(ValueError, match="min_steps"):
        m.qualified_note_rate(phrase(), 0)


def test_a_held_triad_is_three_voice_polyphony_and_a_melody_is_monophonic():
    roll = hold(phrase(tracks=2), C_MAJOR, 0, 8)  # half a bar of triad, then rest
    for step, note in enumerate((60, 62, 64, 65)):
        hold(roll, (note,), 4 * step, 4 * step + 4, track=1)
    np.testing.assert_allclose(m.polyphony(roll), [3.0, 1.0])
    np.testing.assert_allclose(m.polyphonic_rate(roll), [0.5, 0.0])  # 8 of 16 steps in the bar


def test_note_density_counts_onsets_per_bar_and_every_drum_cell_as_a_hit():
    roll = phrase(tracks=2, bars=2)
    for beat in range(8):
        hold(roll, (60,), 4 * beat, 4 * beat + 3)  # detached quarter notes: 4 onsets a bar
    hold(roll, (42,), 0, 4, track=1)  # on a drum track: 4 hits
    np.testing.assert_allclose(analysis.note_density(roll, drums=[False, True]), [4.0, 2.0])
    np.testing.assert_allclose(analysis.note_density(roll), [4.0, 0.5])


def test_rolls_must_be_binarized():
    with pytest.raises(ValueError, match="boolean"):
        m.empty_bar_rate(phrase().astype(np.float32))


# ---------------------------------------------------------------------------- drums


def drums_at(steps: list[int], steps_per_bar: int = 16, pitch: int = 42) -> np.ndarray:
    """One bar of one drum track [bars=1, steps, pitches=72] with a hit at each step."""
    roll = np.zeros((1, steps_per_bar, 72), dtype=bool)
    roll[0, steps, pitch - LOW] = True
    return roll


def test_a_16th_hi_hat_is_all_on_the_16th_grid_and_half_on_the_8th():
    sixteenths = drums_at(list(range(16)))
    assert m.drum_pattern_rate(sixteenths, 16, division=16) == pytest.approx(1.0)  # trivially, at 16 a bar
    assert m.drum_pattern_rate(sixteenths, 16, division=8) == pytest.approx(0.5)
    assert m.drum_pattern_rate(drums_at(list(range(0, 16, 2))), 16, division=8) == pytest.approx(1.0)


def test_an_off_grid_pattern_scores_its_share_of_hits_on_the_best_grid():
    assert m.drum_pattern_rate(drums_at([0, 2, 4, 7]), 16, division=8) == pytest.approx(0.75)
    offbeats = drums_at(list(range(1, 16, 2)))  # consistently between 8ths: a pattern all the same
    assert m.drum_pattern_rate(offbeats, 16, division=8) == pytest.approx(1.0)
    assert m.drum_pattern_rate(offbeats, 16, division=8, best_shift=False) == pytest.approx(0.0)


def test_at_musegans_96_steps_a_bar_a_hit_one_step_off_the_16th_grid_counts_0_3():
    assert m.drum_pattern_rate(drums_at([0, 24, 48, 75], 96), 96) == pytest.approx(0.75)  # 75: half a 16th off
    assert m.drum_pattern_rate(drums_at([0, 24, 48, 73], 96), 96) == pytest.approx(3.3 / 4)


def test_drum_pattern_rate_averages_over_bars_with_hits():
    two_bars = np.concatenate([drums_at([0, 2, 4, 7]), np.zeros((1, 16, 72), bool), drums_at([0, 8])])
    assert m.drum_pattern_rate(two_bars, 16, division=8) == pytest.approx((0.75 + 1.0) / 2)
    assert math.isnan(m.drum_pattern_rate(np.zeros((2, 16, 72), bool), 16))
    with pytest.raises(ValueError, match="division"):
        m.drum_pattern_rate(two_bars, 16, division=6)


# ---------------------------------------------------------------------------- harmony


def test_the_tonal_centroid_of_a_c_major_triad_is_the_hand_computed_one():
    chroma = analysis.beat_chroma(hold(phrase(), C_MAJOR, 0, 16)[0, 0], LOW, steps_per_beat=4)
    np.testing.assert_allclose(chroma, [[4, 0, 0, 0, 4, 0, 0, 4, 0, 0, 0, 0]] * 4)
    # pitch classes 0, 4, 7, each 1/3: fifths at 0, 14pi/3, 49pi/6; minor thirds at 0, 6pi, 21pi/2; ...
    a, s3 = (1 + math.sqrt(3)) / 6, math.sqrt(3)
    expected = [a, a, 1 / 3, 2 / 3, s3 / 6, 0.0]
    np.testing.assert_allclose(m.tonal_centroid(chroma), [expected] * 4, atol=1e-12)


def test_the_tonal_centroid_of_silence_is_undefined():
    assert np.isnan(m.tonal_centroid(np.zeros(12))).all()


def two_tracks(chord_a: tuple[int, ...], chord_b: tuple[int, ...]) -> np.ndarray:
    return hold(hold(phrase(tracks=2), chord_a, 0, 16, track=0), chord_b, 0, 16, track=1)


def test_a_chord_and_the_same_chord_an_octave_lower_are_at_tonal_distance_zero():
    roll = two_tracks(C_MAJOR, (48, 52, 55))
    assert m.tonal_distance(roll[0], roll[1], LOW, 4) == pytest.approx(0.0, abs=1e-12)


def test_c_major_and_f_sharp_major_are_far_apart_the_farthest_of_all_major_triads():
    far = two_tracks(C_MAJOR, F_SHARP_MAJOR)
    a = (1 + math.sqrt(3)) / 6  # F# mirrors C on the fifths and minor-thirds circles
    expected = 2 * math.sqrt(2 * a * a + 1 / 9 + 4 / 9)  # about 1.97 (MuseGAN's data: about 1 to 1.6)
    assert m.tonal_distance(far[0], far[1], LOW, 4) == pytest.approx(expected)
    others = [two_tracks(C_MAJOR, tuple(n + k for n in C_MAJOR)) for k in range(12)]
    assert np.argmax([m.tonal_distance(r[0], r[1], LOW, 4) for r in others]) == 6
    relative_minor = two_tracks(C_MAJOR, A_MINOR)  # two notes shared
    assert m.tonal_distance(relative_minor[0], relative_minor[1], LOW, 4) < expected / 2


def test_tonal_distance_skips_beats_where_either_track_is_silent():
    roll = hold(hold(phrase(tracks=2), C_MAJOR, 0, 16, track=0), (48, 52, 55), 0, 4, track=1)
    hold(roll, F_SHARP_MAJOR, 12, 16, track=1)  # beats 2 and 3 of track 1 are silent
    far = two_tracks(C_MAJOR, F_SHARP_MAJOR)
    expected = m.tonal_distance(far[0], far[1], LOW, 4) / 2  # beat 1: 0, beat 4: the C-F# distance
    assert m.tonal_distance(roll[0], roll[1], LOW, 4) == pytest.approx(expected)
    assert math.isnan(m.tonal_distance(roll[0], phrase()[0], LOW, 4))


def test_tonal_distances_gives_every_pair():
    roll = np.concatenate([two_tracks(C_MAJOR, F_SHARP_MAJOR), phrase()])
    td = m.tonal_distances(roll, LOW, 4)
    assert td[0, 1] == td[1, 0] == pytest.approx(m.tonal_distance(roll[0], roll[1], LOW, 4))
    assert td[0, 0] == 0.0 and np.isnan(td[2]).all()


def progression(chords: list[tuple[int, ...]], steps_per_chord: int = 8) -> np.ndarray:
    roll = phrase(bars=len(chords) * steps_per_chord // 16)
    for i, chord in enumerate(chords):
        hold(roll, chord, i * steps_per_chord, (i + 1) * steps_per_chord)
    return roll


C_MAJOR_SONG = [(60,), (62,), (64,), (65,), (67,), (69,), (71,), (72,),  # the scale, then I-IV-V-I
                C_MAJOR, (60, 65, 69), (62, 67, 71), C_MAJOR]
A_MINOR_SONG = [(57,), (59,), (60,), (62,), (64,), (65,), (68,), (69,),  # harmonic minor, then i-iv-V-i
                A_MINOR, (57, 62, 65), (56, 59, 64), A_MINOR]


def test_a_c_major_scale_and_cadence_analyse_as_c_major():
    estimate = analysis.analyse_mode(progression(C_MAJOR_SONG), LOW)
    assert (estimate.mode, estimate.tonic) == ("major", 0)
    assert estimate.score > 0 and estimate.correlation > 0.7


def test_an_a_minor_scale_and_cadence_with_g_sharp_analyse_as_a_minor():
    estimate = analysis.analyse_mode(progression(A_MINOR_SONG), LOW)
    assert (estimate.mode, estimate.tonic) == ("minor", 9)
    assert estimate.score < 0


def test_the_mode_of_silence_is_an_error():
    with pytest.raises(ValueError, match="flat"):
        analysis.analyse_mode(phrase(), LOW)


def test_analyse_mode_agrees_with_music21s_krumhansl_kessler():
    music21 = pytest.importorskip("music21")
    for song in (C_MAJOR_SONG, A_MINOR_SONG, [F_SHARP_MAJOR, (61, 65, 68), (59, 63, 66)] * 4):
        stream = music21.stream.Stream([music21.chord.Chord(list(c), quarterLength=2) for c in song])
        key = stream.analyze("key.krumhansl")
        ours = analysis.analyse_mode(progression(song), LOW)
        assert (ours.mode, ours.tonic) == (key.mode, key.tonic.pitchClass)


# ---------------------------------------------------------------------------- summary


def test_phrase_metrics_reports_each_metric_for_the_tracks_it_applies_to():
    info = ModelInfo(tracks=(Track("drums", is_drum=True), Track("bass", 33), Track("piano")),
                     lowest_pitch=LOW, n_pitches=72, steps_per_beat=4, beats_per_bar=4, bars=1, latent_size=8)
    roll = phrase(tracks=3)
    roll[0, 0, ::2, 42 - LOW] = True
    hold(hold(roll, (36,), 0, 16, track=1), C_MAJOR, 0, 16, track=2)
    result = m.phrase_metrics(np.stack([roll, roll]), info)
    np.testing.assert_allclose(result["empty_bar_rate"], [0, 0, 0])
    np.testing.assert_allclose(result["note_density"], [8, 1, 3])
    np.testing.assert_allclose(result["used_pitch_classes"], [np.nan, 1, 3])
    np.testing.assert_allclose(result["qualified_note_rate_8th"], [np.nan, 1, 1])
    np.testing.assert_allclose(result["polyphony"], [np.nan, 1, 3])
    np.testing.assert_allclose(result["drum_pattern_16th"], [1, np.nan, np.nan])
    np.testing.assert_allclose(result["drum_pattern_8th"], [1, np.nan, np.nan])
    td = result["tonal_distance"]
    assert np.isnan(td[0]).all() and np.isnan(td[:, 0]).all()
    assert td[1, 2] == td[2, 1] == pytest.approx(m.tonal_distance(roll[1], roll[2], LOW, 4))
    assert result["major_rate"] == 1.0 and result["mode_score"] > 0
    with pytest.raises(ValueError, match="shape"):
        m.phrase_metrics(roll[:2], info)


# ---------------------------------------------------------------------------- properties

SMALL = (2, 3, 2, 8, 24)  # phrases, tracks, bars, steps, pitches: room for an octave in 36


@settings(max_examples=60, deadline=None)
@given(arrays(bool, SMALL))
def test_metrics_do_not_change_when_everything_moves_up_an_octave(content):
    low, high = np.zeros(SMALL[:-1] + (36,), bool), np.zeros(SMALL[:-1] + (36,), bool)
    low[..., :24], high[..., 12:] = content, content
    for metric in (m.empty_bar_rate, m.polyphony, m.polyphonic_rate, analysis.note_density):
        np.testing.assert_array_equal(metric(low), metric(high))
    np.testing.assert_array_equal(m.used_pitch_classes(low, LOW), m.used_pitch_classes(high, LOW))
    np.testing.assert_array_equal(m.qualified_note_rate(low, 2), m.qualified_note_rate(high, 2))
    np.testing.assert_allclose(m.tonal_distances(low, LOW, 4), m.tonal_distances(high, LOW, 4))


@settings(max_examples=60, deadline=None)
@given(arrays(bool, SMALL[1:]), arrays(bool, SMALL[1:]))
def test_tonal_distance_is_symmetric_and_bounded(a, b):
    ab, ba = m.tonal_distance(a, b, LOW, 4), m.tonal_distance(b, a, LOW, 4)
    assert (math.isnan(ab) and math.isnan(ba)) or (ab == pytest.approx(ba) and 0 <= ab <= 3)


@settings(max_examples=60, deadline=None)
@given(arrays(bool, SMALL[1:]), st.integers(1, 5))
def test_qualified_notes_are_the_notes_livegan_roll_plays(roll, k):
    notes = roll_to_notes(roll.reshape(3, -1, 24), LOW, drums=[False] * 3)
    for track in range(3):
        lengths = [n.length for n in notes if n.track == track]
        want = np.mean([n >= k for n in lengths]) if lengths else np.nan
        np.testing.assert_allclose(m.qualified_note_rate(roll, k)[track], want)


def kk_correlations(durations: np.ndarray) -> np.ndarray:
    """Pearson correlation with the 24 Krumhansl-Kessler keys (C..B major, then C..B minor), by np.corrcoef."""
    keys = [np.roll(profile, tonic) for profile in (analysis.KK_MAJOR, analysis.KK_MINOR) for tonic in range(12)]
    return np.array([np.corrcoef(durations, key)[0, 1] for key in keys])


@settings(max_examples=60, deadline=None)
@given(arrays(bool, SMALL[1:]), st.integers(0, 11))
def test_transposing_by_k_semitones_moves_the_tonic_by_k(roll, k):
    durations = np.bincount((LOW + np.nonzero(roll)[-1]) % 12, minlength=12)
    assume(np.ptp(durations) > 0)
    r = np.sort(kk_correlations(durations))
    assume(r[-1] - r[-2] > 1e-9)  # no tie for the best key
    moved = np.zeros(SMALL[1:-1] + (36,), bool)
    moved[..., k:k + 24] = roll
    before, after = analysis.analyse_mode(roll, LOW), analysis.analyse_mode(moved, LOW)
    assert before.correlation == pytest.approx(r[-1])
    assert after.mode == before.mode and after.tonic == (before.tonic + k) % 12
    assert after.score == pytest.approx(before.score)
