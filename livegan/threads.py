"""Threads the operating system can tell apart: ``top -H``, ``ps -L`` and /proc show LiveGAN's by name.

Python (before 3.14) names its threads only for itself; the kernel sees every thread of the
daemon as the process. :func:`name_os_thread` gives the calling thread its Python name there
too (Linux keeps 15 bytes), so that what each thread costs can be read per thread
(``benchmarks/startup.py``). Elsewhere, or if the call fails, nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from functools import lru_cache

PR_SET_NAME = 15  # prctl(2)
NAME_BYTES = 15  # the kernel's limit, without the terminating NUL


@lru_cache(maxsize=1)
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def name_os_thread(name: str | None = None) -> bool:
    """Name the calling thread for the OS (its Python name by default); True if it took."""
    libc = _libc()
    if libc is None:
        return False
    raw = (name or threading.current_thread().name).encode("utf-8", "replace")[:NAME_BYTES]
    return libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) == 0
