"""``livegan eval``: what it reports about a model, on tiny models and datasets with known answers.

The metrics themselves are specified in test_metrics.py; these tests specify the
evaluation around them: the command's output, copy detection under transposition,
mood control, and that it runs without torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from onnx_models import build_model, tiny_info

from livegan.evaluation.evaluate import (
    EvalOptions,
    PhraseIndex,
    Reference,
    evaluate,
    mode_agreement,
    mood_control,
    originality,
)
from livegan.model.contract import ModelInfo, Track
from livegan.model.engine import OnnxGenerator
from livegan.mood.presets import Mood
from livegan.music.analysis import phrase_modes, spearman
from livegan.music.dataset import DataConfig, PhraseSet

NO_TORCH = Path(__file__).parent / "no_torch"
PRESETS = [Mood("bright", 0.8, 0.6), Mood("dark", -0.6, -0.5)]


def tiny_dataset(path: Path, info: ModelInfo, n: int = 120, seed: int = 1, **grid) -> Path:
    """Random sparse phrases in ``info``'s layout, 10 per song, saved as `livegan data build` does."""
    rng = np.random.default_rng(seed)
    rolls = rng.random((n, *info.roll_shape)) < 0.04
    config = DataConfig(**{"bars": info.bars, "lowest_pitch": info.lowest_pitch, "n_pitches": info.n_pitches,
                           "min_notes": 1, **grid})
    labels = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    songs = np.arange(n) // 10
    PhraseSet(rolls, labels, songs, np.zeros(n, int), [f"song{i}" for i in range(songs.max() + 1)], config,
              info.tracks).save(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    return build_model(folder / "tiny.onnx", bias=-3.0), tiny_dataset(folder / "tiny.npz", tiny_info()), folder


def livegan_without_torch(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(NO_TORCH), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "livegan", *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_eval_prints_the_table_writes_json_and_plots_and_needs_no_torch(files):
    model, data, folder = files
    out = folder / "eval.json"
    result = livegan_without_torch("eval", "--model", str(model), "--data", str(data), "--phrases", "64",
                                   "--per-cell", "4", "--grid", "3", "--json", str(out), "--plots", str(folder / "plots"))
    assert result.returncode == 0, result.stderr
    for text in ("EB   empty bars %", "Piano-Bass", "mood control", "Spearman(density, arousal)", "exact copies"):
        assert text in result.stdout
    report = json.loads(out.read_text())
    generated, training = report["quality"]["generated"], report["quality"]["training"]
    assert len(generated["empty_bar_rate"]) == len(training["used_pitch_classes"]) == 3
    assert generated["used_pitch_classes"][0] is None and generated["drum_pattern_8th"][1] is None  # drums / melodic
    assert len(report["mood"]["grid"]["major_rate"]) == 3 and len(report["mood"]["presets"]) == 5
    assert 0 <= report["originality"]["near_copy_rate"] <= 1 and report["originality"]["reference_phrases"] == 120
    assert report["command"].startswith("livegan eval --model")
    assert (folder / "plots" / "metrics.png").stat().st_size > 0 and (folder / "plots" / "mood.png").stat().st_size > 0
    voices = report["voices"]  # the part-writing of what the daemon plays, guided as it plays, unguided, and the data's
    assert voices["played"]["streams"] == 30 and voices["played"]["bars"] == 32 and voices["played"]["guide"] == 8
    assert voices["unguided"]["guide"] == 1 and voices["training"]["phrases"] == 120
    assert len(voices["played"]["stepwise"]) == 3 and 0 <= voices["played"]["all_voices_sound"] <= 1
    assert "part-writing of what the daemon plays" in result.stdout
    assert (folder / "plots" / "voices.png").stat().st_size > 0


def test_eval_compares_models_of_both_runtimes_side_by_side_in_one_table(files):
    from onnx_models import build_step_model, build_vae_pair

    model, data, folder = files
    step, vae = build_step_model(folder / "rnn.onnx", bias=-4.0), build_vae_pair(folder / "vae.onnx")
    out = folder / "compare.json"
    result = livegan_without_torch("eval", "--model", str(model), "--model", str(step), "--model", str(vae),
                                   "--data", str(data), "--phrases", "32", "--per-cell", "2", "--grid", "2",
                                   "--json", str(out))
    assert result.returncode == 0, result.stderr
    table = result.stdout[result.stdout.index("side by side"):].splitlines()
    assert table[1].split() == ["tiny.onnx", "rnn.onnx", "vae.onnx", "training", "data"]
    rows = {line[:36].strip(): line[36:].split() for line in table[2:]}
    assert rows["runtime, file size"][::3] == ["phrase,", "step,", "phrase,"]
    assert len(rows["EB   empty bars %"]) == 4 and len(rows["mood: Spearman(density, arousal)"]) == 3
    report = json.loads(out.read_text())["models"]
    assert [r["model"]["runtime"] for r in report] == ["phrase", "step", "phrase"]
    for r in report:  # each is the full single-model report
        assert set(r) >= {"quality", "mood", "originality", "ms_per_bar"}
        assert 0 < r["ms_per_bar"]["candidates_1"] and 0 < r["ms_per_bar"]["candidates_8"]
    ms = [float(x) for x in rows["model ms per bar, 1 / 8 candidates"] if x != "/"]
    assert ms[2] > ms[0] and ms[2] > ms[4]  # a step model calls the model once per step


def test_a_dataset_on_another_grid_is_refused_in_one_line(files, tmp_path):
    model, _, _ = files
    other = tiny_dataset(tmp_path / "other.npz", tiny_info(), steps_per_beat=2)
    result = livegan_without_torch("eval", "--model", str(model), "--data", str(other), "--phrases", "8")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "does not fit the model: steps_per_beat 2 (model: 4)" in result.stderr


def test_a_dataset_on_another_pitch_window_is_read_in_the_models_window():
    from livegan.evaluation.evaluate import to_window

    rolls = np.zeros((1, 1, 12), bool)
    rolls[0, 0, [0, 5, 11]] = True  # MIDI 36, 41, 47 on a window from 36
    moved = to_window(rolls, 36, 40, 12)  # the model's window: MIDI 40-51
    assert moved.shape == (1, 1, 12) and np.flatnonzero(moved[0, 0]).tolist() == [1, 7]  # 41 and 47; 36 falls outside


def test_without_data_there_is_no_training_column_and_no_copy_check_but_still_diversity(files):
    generator = OnnxGenerator(files[0])
    result = evaluate(generator, PRESETS, EvalOptions(phrases=16, per_cell=2, grid=2), mood=False)
    assert "training" not in result["quality"] and "mood" not in result
    assert "exact_copy_rate" not in result["originality"]
    assert 0 <= result["originality"]["diversity"]["mean_pairwise_iou"] <= 1


def shift_up(phrase: np.ndarray, semitones: int, drums: np.ndarray) -> np.ndarray:
    out = phrase.copy()
    out[~drums] = np.roll(phrase[~drums], semitones, axis=-1)
    return out


def test_transposed_and_near_copies_of_training_phrases_are_found_and_fresh_phrases_are_not():
    info = tiny_info()
    drums = np.array([t.is_drum for t in info.tracks])
    rng = np.random.default_rng(3)
    train = np.zeros((30, *info.roll_shape), dtype=bool)
    train[..., 4:18] = rng.random((30, *info.roll_shape[:-1], 14)) < 0.08  # room to transpose by 5 either way
    exact = shift_up(train[0], 5, drums)  # the whole phrase up a fourth, drums untouched
    near = shift_up(train[1], -3, drums)
    near[np.unravel_index(np.flatnonzero(near)[:2], near.shape)] = False  # drop 2 notes: IoU just under 1
    fresh = rng.random(info.roll_shape) < 0.08
    reference = Reference("memory", train, np.zeros((30, 2), np.float32), np.arange(30), 30)
    result = originality(np.stack([exact, near, fresh]), reference, info, EvalOptions(near=0.9), rng)
    assert result["exact_copy_rate"] == pytest.approx(1 / 3)
    assert result["near_copy_rate"] == pytest.approx(2 / 3)
    assert result["nearest_iou"]["max"] == 1.0


@settings(max_examples=25, deadline=None)
@given(arrays(bool, (6, 2, 1, 4, 9)), arrays(bool, (2, 1, 4, 9)), st.integers(0, 4))
def test_the_index_gives_the_iou_of_every_transposition_as_brute_force_does(rolls, query, max_shift):
    drums = np.array([True, False])
    shifts = np.arange(-max_shift, max_shift + 1)
    got = PhraseIndex(rolls, drums).iou(query, shifts)
    for k, s in enumerate(shifts):
        moved = query.copy()
        moved[1] = 0
        moved[1, ..., max(s, 0):9 + min(s, 0)] = query[1, ..., max(-s, 0):9 - max(s, 0)]
        inter = (moved[None] & rolls).sum(axis=(1, 2, 3, 4))
        union = query.sum() + rolls.sum(axis=(1, 2, 3, 4)) - inter
        np.testing.assert_allclose(got[k], np.where(union > 0, inter / np.maximum(union, 1), 0.0))


def test_spearman_ranks_ties_by_their_average():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [9, 1, 0, -5]) == pytest.approx(-1.0)
    # x ranks 0, 1.5, 1.5, 3 and y ranks 0, 1, 2, 3, centred: -1.5 0 0 1.5 and -1.5 -0.5 0.5 1.5;
    # Pearson of the ranks = 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5))
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_major_phrases_at_positive_valence_and_minor_at_negative_all_match():
    info = tiny_info(tracks=(Track("Piano"),), lowest_pitch=48, n_pitches=24)
    rolls = np.zeros((3, *info.roll_shape), dtype=bool)
    for i, chord in enumerate([(0, 4, 7), (9, 12, 16), (2, 5, 9)]):  # C major, A minor, D minor (from C3)
        rolls[i, 0, :, :, list(chord)] = True
    is_major, _, analysed = phrase_modes(rolls, info)
    assert is_major.tolist() == [True, False, False] and analysed.all()
    result = mode_agreement(is_major, analysed, np.array([1.0, -0.5, 0.0]))  # valence 0 is left out
    assert result["mode_match"] == 1.0 and result["phrases_analysed"] == 2


@pytest.mark.parametrize("gain, sign", [(1.5, 1), (-1.5, -1)])
def test_mood_control_sees_arousal_move_note_density_on_a_model_built_that_way(tmp_path, gain, sign):
    generator = OnnxGenerator(build_model(tmp_path / "m.onnx", density_gain=gain))
    result = mood_control(generator, PRESETS, EvalOptions(per_cell=6, grid=3), np.random.default_rng(0))
    assert sign * result["density_arousal_spearman"] > 0.5
    density = np.array(result["grid"]["note_density"])  # rows: arousal -1, 0, +1
    assert (sign * np.diff(density.mean(axis=1)) > 0).all()
