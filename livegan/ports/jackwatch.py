"""Noticing that the JACK server went away.

rtmidi keeps "sending" into a JACK client whose server has died, silently. A
small extra JACK client (through libjack with ctypes, no port of its own)
registers JACK's shutdown callback, so the daemon can stop with one clear line
and a non-zero exit code instead of playing into nothing.

The same client lets the daemon wait, on its way out, until the server has told every
client about the last change to the graph (:meth:`JackWatchdog.settle`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

JACK_NO_START_SERVER = 0x01
SETTLE_SECONDS = 0.05  # s after a change to the graph by when the server's cycle has passed it on (19 periods of
# 128 frames at 48 kHz: room for a late cycle on a loaded machine)
_SHUTDOWN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class JackWatchdog:
    """Calls ``on_gone`` (once, from JACK's thread) when the JACK server shuts down or dies."""

    def __init__(self, on_gone: Callable[[], None], client_name: str = "LiveGAN-watch") -> None:
        self.gone = threading.Event()
        self._on_gone = on_gone
        self._lib = _libjack()
        self._client = None
        if self._lib is None:
            log.debug("libjack not found: the JACK server's disappearance will not be noticed")
            return
        self._callback = _SHUTDOWN(self._shutdown)  # kept alive for as long as JACK may call it
        status = ctypes.c_int(0)
        client = self._lib.jack_client_open(client_name.encode(), JACK_NO_START_SERVER, ctypes.byref(status))
        if not client:
            log.debug("watchdog client could not open (JACK status %#x)", status.value)
            return
        # Never activated: an inactive client is not part of JACK's process graph, so the
        # server never waits on it in a cycle (with ``jackd --sync`` a client that vanishes
        # mid-cycle stalls the whole graph for seconds), yet its notification thread still
        # hears the server go away.
        self._lib.jack_on_shutdown(client, self._callback, None)
        self._client = client

    @property
    def active(self) -> bool:
        return self._client is not None

    def _shutdown(self, _arg: object) -> None:
        if not self.gone.is_set():
            self.gone.set()
            self._on_gone()

    def settle(self, seconds: float = SETTLE_SECONDS) -> None:
        """Return once the JACK server has told every client about the changes to its graph made before the call.

        The server hears of a change (a port or a client gone, a connection) at its next cycle, then tells each
        active client in turn, waiting for each one's answer: a latency callback run on that client's notification
        thread. Waiting ``seconds`` lets the cycle pass; asking for one more round of those callbacks
        (``jack_recompute_total_latencies``, answered by the server's one request thread after the rounds it is
        running or was told of) returns once the round is over. Without a client (no libjack, or the server is
        gone) only the wait remains.
        """
        time.sleep(seconds)
        if self._client is not None and not self.gone.is_set():
            self._lib.jack_recompute_total_latencies(self._client)

    def close(self) -> None:
        if self._client is not None and not self.gone.is_set():
            self._lib.jack_client_close(self._client)
        self._client = None


def _libjack() -> ctypes.CDLL | None:
    path = ctypes.util.find_library("jack") or "libjack.so.0"
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, _SHUTDOWN, ctypes.c_void_p]
    lib.jack_client_close.argtypes = [ctypes.c_void_p]
    lib.jack_recompute_total_latencies.argtypes = [ctypes.c_void_p]
    return lib
