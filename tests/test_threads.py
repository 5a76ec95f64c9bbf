"""LiveGAN's threads carry their names into the OS, where top -H and /proc show them."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from livegan.threads import name_os_thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_thread_named_for_the_os_shows_its_python_name_in_proc_cut_to_the_kernels_15_bytes():
    seen: list[tuple[bool, str]] = []

    def work() -> None:
        took = name_os_thread()
        seen.append((took, Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()))

    thread = threading.Thread(target=work, name="livegan-a-long-thread-name")
    thread.start()
    thread.join()
    assert seen == [(True, "livegan-a-long-")]
