"""Never hang: if the clock thread gets stuck inside a driver call, the process ends by itself.

rtmidi's JACK backend spins forever (holding the GIL) once its client is no longer
served, so neither signals nor other threads can help. The daemon's clock arms a
C-level watchdog (faulthandler) that needs no GIL.
"""

import subprocess
import sys
import textwrap
import time

from onnx_models import build_model

STUCK_DAEMON = textwrap.dedent("""
    import sys, mido
    from livegan.timing.clock import MonotonicClock
    from livegan.mood.controls import ControlMap
    from livegan.model.engine import OnnxGenerator
    from livegan.live.session import LiveSession, SessionOptions
    from livegan.mood.presets import load_moods

    class StuckPort(mido.ports.BaseOutput):
        sent = 0
        def _send(self, msg):
            StuckPort.sent += 1
            while StuckPort.sent > 20:  # the driver never returns
                pass

    clock = MonotonicClock(hang_timeout=1.0)
    LiveSession(OnnxGenerator(sys.argv[1]), load_moods(), ControlMap(), StuckPort(), clock,
                SessionOptions(bpm=240)).run()
""")


def test_a_clock_thread_stuck_in_a_driver_ends_the_process_instead_of_hanging(tmp_path):
    model = build_model(tmp_path / "m.onnx", bias=-2.0)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", STUCK_DAEMON, str(model)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Timeout" in result.stderr and "_send" in result.stderr  # where it was stuck, for the bug report
    assert time.monotonic() - started < 30
