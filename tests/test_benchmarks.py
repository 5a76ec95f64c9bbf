"""Smoke tests of benchmarks/: each script runs in its --quick mode and writes JSON of the agreed shape.

Only the structure is checked, never the speed: benchmark figures come from full runs
(see benchmarks/README.md), not from the test suite.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from jackkit import ensure_jack_tools
from onnx_models import build_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_model(tmp_path_factory.mktemp("bench") / "tiny.onnx", bias=-3.0)


def run_benchmark(name: str, out: Path, *args: str) -> dict:
    command = [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--quick", "--out", str(out), *args]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its jackd and daemons are in its process group
    try:
        stdout, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:  # stop all it started, and say where it stood (a wedged jackd...)
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"benchmarks/{name}.py --quick still running after 180 s; it printed:\n{stdout}\n{stderr}")
    assert proc.returncode == 0, stdout + stderr
    report = json.loads(out.read_text())
    assert report["benchmark"] == name and report["quick"] is True
    assert report["command"].startswith(f"python benchmarks/{name}.py --quick")
    assert {"date", "machine", "commit", "load_average_1m_before"} <= set(report["environment"])
    return report["results"]


def assert_spread(spread: dict) -> None:
    assert {"n", "median_ms", "p99_ms", "max_ms"} <= set(spread) and spread["n"] > 0
    assert spread["median_ms"] <= spread["p99_ms"] <= spread["max_ms"]


def test_timing_compares_the_sequencer_with_mido_records_jack_onsets_and_counts_xruns_per_client(tiny_model, tmp_path):
    ensure_jack_tools()
    results = run_benchmark("timing", tmp_path / "timing.json", "--model", str(tiny_model), "--repeats", "2")
    repeats = results["worker_idle_repeats"]
    assert len(repeats["runs"]) == 2 and repeats["p99_ms"] == [r["p99_ms"] for r in repeats["runs"]]
    assert min(repeats["p99_ms"]) <= repeats["p99_median_ms"] <= max(repeats["p99_ms"])
    for condition in ("idle", "loaded"):
        rows = results["in_process"][condition]
        assert rows["in-process"]["same_messages"] is True and rows["worker"]["same_messages"] is True
        for who in ("in-process", "worker", "worker, knob sweep", "mido_play"):
            assert_spread(rows[who])
        if shutil.which("cc"):  # the floor: the same deadlines kept by the C probe
            for who in ("floor_c_cold", "floor_c_hot"):
                assert_spread(rows[who])
                assert rows[who]["n"] == rows["mido_play"]["n"]
    jack = results["jack"]["idle"]
    assert jack["exit_code"] == 0 and jack["onsets"] > 0 and jack["period_ms"] == pytest.approx(2.667, abs=0.01)
    assert_spread(jack["deviation"])
    assert_spread(jack["deviation_within_bar"])
    assert set(jack["daemon_lateness_ms"]) == {"median_ms", "p99_ms", "max_ms"}
    xruns = results["xruns"]["idle"]  # livegan run --clock external and a C client on one real-time jackd
    assert xruns["exit_code"] == 0 and xruns["ticks_sent"] > 0 and xruns["cc_sent"] > 0 and xruns["cycles"] > 0
    assert {"LiveGAN-in", "LiveGAN", "jack_midi_dump", "(driver)"} <= set(xruns["blamed"])
    assert xruns["livegan_blamed"] == xruns["blamed"]["LiveGAN-in"] + xruns["blamed"]["LiveGAN"]
    assert xruns["c_client_blamed"] == xruns["blamed"]["jack_midi_dump"]
    assert xruns["cpu_percent"] == pytest.approx(xruns["daemon_cpu_percent"] + xruns["worker_cpu_percent"], abs=1e-3)  # each rounded
    assert set(xruns["daemon_lateness_ms"]) == {"median_ms", "p99_ms", "max_ms"}


def test_startup_times_the_first_note_and_reads_cpu_and_memory(tiny_model, tmp_path):
    ensure_jack_tools()
    results = run_benchmark("startup", tmp_path / "startup.json", "--model", str(tiny_model))
    first = results["starts"][0]
    assert 0 < first["port_s"] <= first["bar1_s"] <= first["first_note_s"] and first["exit_code"] == 0
    takes = results["streaming"]
    assert set(takes) == {"no input", "with input"}
    for streaming in takes.values():
        assert streaming["cpu_percent"] >= 0 and streaming["rss_mb"] > 0 and streaming["peak_rss_mb"] >= streaming["rss_mb"]
        assert streaming["workers"] == 1 and streaming["worker_rss_mb"] > 0  # the generation worker is counted too
        assert streaming["cpu_percent"] == pytest.approx(streaming["daemon_cpu_percent"] + streaming["worker_cpu_percent"], abs=1e-3)  # each rounded
        threads = streaming["thread_cpu_percent"]  # per thread, by the names LiveGAN gives its own
        assert "clock (main)" in threads and "livegan-compose" in threads
        assert sum(threads.values()) == pytest.approx(streaming["daemon_cpu_percent"], abs=2.0)  # threads come and go
        assert "jack_midi_dump (C client)" in streaming["beside_cpu_percent"]
    assert "livegan-input" in takes["with input"]["thread_cpu_percent"]
    assert "livegan-input" not in takes["no input"]["thread_cpu_percent"]
    assert_spread(results["summary"]["first_note_s"])


def test_mood_switch_is_measured_against_the_time_left_in_the_bar(tiny_model, tmp_path):
    ensure_jack_tools()
    results = run_benchmark("mood_switch", tmp_path / "mood.json", "--model", str(tiny_model))
    summary = results["summary"]
    assert summary["switches"] == len(results["switches"]) == 2
    assert summary["at_next_bar_line"] + summary["one_bar_later"] <= 2
    for record in results["switches"]:
        assert 0 < record["left_in_bar_s"] <= record["bar_s"] and record["to_first_note_s"] >= record["to_new_bar_s"] - 0.01
    assert_spread(summary["to_first_note"])


def test_inference_times_torch_and_onnx_runtime_on_the_same_weights(tmp_path):
    results = run_benchmark("inference", tmp_path / "inference.json")
    if "skipped" in results:
        assert "torch" in results["skipped"]
        return
    assert [r["batch"] for r in results["rows"]] == [1, 2]
    for row in results["rows"]:
        assert row["torch_ms_per_phrase"] > 0 and row["onnx_ms_per_phrase"] > 0 and row["max_abs_difference"] < 1e-4
    assert results["cuda"] == "measured" or results["cuda"].startswith("not measured here")


def test_training_throughput_runs_the_real_training_loop(tmp_path):
    results = run_benchmark("training", tmp_path / "training.json")
    if "skipped" in results:
        assert "torch" in results["skipped"]
        return
    row = results["rows"][0]
    assert row["device"] == "cpu" and row["steps"] == [1, 2] and len(row["seconds"]) == 2
    assert row["phrases_per_s"] is None or row["phrases_per_s"] > 0  # None: 1 step was lost in noise (quick mode)


def test_guide_compares_guided_and_unguided_phrases_of_the_shipped_musegan(tmp_path):
    results = run_benchmark("guide", tmp_path / "guide.json")
    rows = [r for r in results.values() if isinstance(r, dict)]
    assert {r["candidates"] for r in rows} == {1, 8} and len(rows) == 10
    for row in rows:
        assert 0.0 <= row["major_share"] <= 1.0 and row["notes_per_bar"] >= 0 and row["ms_per_phrase_median"] > 0


def test_follow_times_chord_changes_over_jack_costs_each_mode_and_scores_its_part_writing(tmp_path):
    ensure_jack_tools()
    results = run_benchmark("follow", tmp_path / "follow.json")  # the shipped model: playing along needs an infill model
    chords = results["chord_follow"]
    assert chords["exit_code"] == 0 and chords["make_bar_ms"] > 0 and chords["note_ons"] > 0 and chords["workers"] == 1
    assert len(chords["changes"]) == chords["summary"]["changes"] == 2
    assert sum(row["changes"] for row in chords["summary"]["by_lead"]) == 2
    assert_spread(chords["recorded_vs_take"])  # the take's notes found on the JACK recording's frame clock
    for change in chords["changes"]:
        assert 0 <= change["lead_s"] <= 240 / results["bpm"]
        if change["bars_late"] is not None:  # followed: from a bar line at or after the next one
            assert change["bars_late"] >= 0 and change["latency_s"] >= change["lead_to_followed_s"] - 0.01
            assert all(0.0 <= share <= 1.0 for share in change["held_shares"])
    assert set(results["modes"]) == {"none", "chords", "melody", "respond"}
    for mode in results["modes"].values():
        assert mode["exit_code"] == 0 and mode["workers"] == 1 and mode["cpu_percent"] >= 0
        assert mode["cpu_percent"] == pytest.approx(mode["daemon_cpu_percent"] + mode["worker_cpu_percent"], abs=1e-3)  # each rounded
        assert set(mode["daemon_lateness_ms"]) == {"median_ms", "p99_ms", "max_ms"}
    writing = results["part_writing"]
    assert set(writing) == {"free", "chords", "melody"}
    for figures in writing.values():
        assert 0.0 <= figures["stepwise_mean"] <= 1.0 and figures["notes_per_bar"] > 0 and figures["pieces"] == 1
    assert 0.0 <= writing["chords"]["chord_tone_share"] <= 1.0 and writing["free"]["chord_tone_share"] is None


def test_hurry_measures_each_window_and_passes_of_a_first_bar_and_a_bar_remade_over_a_chord(tmp_path):
    results = run_benchmark("hurry", tmp_path / "hurry.json")  # the shipped model: an infill model's passes
    assert results["seeds"] == 2 and results["model_passes"] > 0
    assert {(r["window"], r["passes"]) for r in results["opening"]} >= {(4, 24), (2, 24)}
    assert {(r["window"], r["passes"]) for r in results["remake"]} >= {(4, 24), (2, 24), (2, 8)}
    for row in results["opening"] + results["remake"]:
        assert row["seconds_per_bar"] > 0 and row["notes_per_bar"] > 0 and 0.0 <= row["stepwise_mean"] <= 1.0
        assert 0.0 <= row["any_out_of_order"] <= 1.0
    assert all(0.0 <= r["chord_tones"] <= 1.0 for r in results["remake"])


def test_ties_counts_each_models_ties_and_how_the_take_plays_them(tmp_path):
    results = run_benchmark("ties", tmp_path / "ties.json")  # the shipped model, 2 bars, the first preset
    assert results["bars"] == 2 and set(results["models"]) == {"default"}
    for row in results["models"]["default"]:
        assert row["notes"] > 0 and 0 <= row["held_as_one"] <= row["tied"] <= row["voice_bar_lines"] == 4
        assert row["note_ons_sent"] == row["notes"] - row["held_as_one"]  # a tie held sends no note-on
