"""The command line: one clear line and exit code 2 for a user's mistake, and no torch on the live path."""

import subprocess
import sys

import pytest
from onnx_models import build_model

LIVE_MODULES = ["livegan.cli", "livegan.commands.run", "livegan.commands.ports", "livegan.live.session", "livegan.model.engine",
                "livegan.generation.composer", "livegan.timing.sequencer", "livegan.ports.midi", "livegan.mood.controls", "livegan.music.perform"]


def livegan(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livegan", *args], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livegan: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_the_live_path_imports_no_torch():
    code = ("import sys, importlib\n"
            f"for m in {LIVE_MODULES!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'music21', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_missing_model_file_is_named(tmp_path):
    assert_one_line_error(livegan("run", "--model", str(tmp_path / "none.onnx"), "--no-input"), "none.onnx", "does not exist")


def test_a_foreign_onnx_model_is_refused_before_any_port_opens(tmp_path):
    path = build_model(tmp_path / "foreign.onnx", metadata=False)
    assert_one_line_error(livegan("run", "--model", str(path)), "foreign.onnx", "model contract", "livegan export")


def test_an_unknown_mood_lists_the_known_ones(tmp_path):
    path = build_model(tmp_path / "m.onnx")
    assert_one_line_error(livegan("run", "--model", str(path), "--mood", "grumpy"), "unknown mood 'grumpy'", "bittersweet")


def test_a_broken_mood_file_is_named(tmp_path):
    moods = tmp_path / "my moods.toml"
    moods.write_text("[[mood]]\nname = 'x'\n")
    assert_one_line_error(livegan("run", "--moods", str(moods)), "my moods.toml", "arousal")


def test_a_bad_option_value_exits_2(tmp_path):
    result = livegan("run", "--bpm", "1000")
    assert result.returncode == 2 and "--bpm" in result.stderr and "Traceback" not in result.stderr


def test_moods_lists_presets_with_program_numbers_and_the_cc_map():
    result = livegan("moods")
    assert result.returncode == 0
    assert "1  uplifting" in result.stdout and "CC 21" in result.stdout and "valence" in result.stdout


@pytest.mark.parametrize("args, fragments", [
    (["--help"], ["run", "render", "export", "train", "ports", "moods", "learn", "eval"]),
    (["run", "--help"], ["--port", "LiveGAN Out", "--record", "--guide"]),
    (["render", "--help"], ["--guide", "--seed", "--mood"]),
])
def test_help_is_quick_and_mentions_the_port(args, fragments):
    """Help names what it should, and is quick by construction: it loads neither ONNX Runtime nor torch."""
    code = ("import sys\nfrom livegan.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('LOADED', sorted(m for m in ('onnxruntime', 'torch', 'numpy', 'rtmidi') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    help_text, _, loaded = result.stdout.rpartition("LOADED ")
    assert loaded.strip() == "[]"
    for fragment in fragments:
        assert fragment in help_text