"""A full disk while ``--record`` writes: the music goes on, one warning, and the outcome is honest.

The take is written to a real 64 KiB tmpfs that the test fills up (root is needed
to mount it; CI runs as root).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import mido
import pytest
from daemonkit import OUT
from onnx_models import build_model


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 1024)
        except OSError:
            pass
    return filler


def test_a_full_disk_warns_once_keeps_playing_and_recovers(jack_server, daemon_factory, small_disk, tmp_path):
    take = small_disk / "take.mid"
    daemon = daemon_factory("--model", str(build_model(tmp_path / "m.onnx", bias=-2.5)), "--bpm", "240",
                            "--record", str(take), "--no-input")
    jack_server.wait_for_port(OUT, timeout=20)
    time.sleep(1.5)
    filler = fill(small_disk)
    daemon.wait_line("cannot write the recording", timeout=10)
    time.sleep(2.5)  # more failed flushes: they stay quiet
    filler.unlink()
    daemon.wait_line("is being written again", timeout=10)
    assert daemon.stop(signal.SIGINT) == 0, daemon.log
    assert sum("cannot write the recording" in line for line in daemon.log) == 1
    notes = [m for m in mido.MidiFile(take) if m.type == "note_on" and m.velocity]
    assert len(notes) > 20


def test_a_take_that_cannot_be_completed_exits_4_and_leaves_a_valid_file(jack_server, daemon_factory, small_disk, tmp_path):
    take = small_disk / "take.mid"
    daemon = daemon_factory("--model", str(build_model(tmp_path / "m.onnx", bias=-2.5)), "--bpm", "240",
                            "--record", str(take), "--no-input")
    jack_server.wait_for_port(OUT, timeout=20)
    time.sleep(1.5)
    fill(small_disk)
    daemon.wait_line("cannot write the recording", timeout=10)
    assert daemon.stop(signal.SIGINT) == 4, daemon.log
    assert any("the take could not be completed" in line for line in daemon.log)
    assert not any("Traceback" in line for line in daemon.log)
    assert mido.MidiFile(take).length > 0  # what was written before the disk filled is a whole file
