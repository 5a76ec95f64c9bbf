"""Never hang on the way out: if closing the ports does not return, the daemon leaves anyway.

libjack can deadlock in ``jack_client_close`` when its server vanished mid-cycle; the
daemon then ignored Ctrl-C forever. ``close_or_abandon`` bounds the wait.
"""

from __future__ import annotations

import logging
import threading
import time

from livegan.commands.run import close_or_abandon


def test_a_close_that_returns_leaves_nothing_armed(caplog):
    exits: list[int] = []
    closed = []
    close_or_abandon(lambda: closed.append(True), timeout=0.2, exit=exits.append)
    time.sleep(0.4)  # past the timeout: the guard must have been cancelled
    assert closed == [True] and exits == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_close_that_never_returns_exits_with_code_3_and_one_line(caplog):
    exits: list[int] = []
    release = threading.Event()

    def stuck_close() -> None:  # stands in for jack_client_close waiting on a dead server
        release.wait(5.0)

    started = time.monotonic()
    worker = threading.Thread(target=close_or_abandon, args=(stuck_close,),
                              kwargs={"timeout": 0.3, "exit": lambda code: (exits.append(code), release.set())})
    with caplog.at_level(logging.ERROR, logger="livegan"):
        worker.start()
        worker.join(timeout=5.0)
    assert exits == [3]
    assert 0.25 <= time.monotonic() - started < 3.0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "closing the MIDI ports did not finish in 0.3 s" in errors[0]
