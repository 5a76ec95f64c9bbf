"""Record every MIDI event that reaches a JACK input port: ``python jack_record.py CLIENT``.

A stand-in for ``jack_midi_dump -a`` without its silent loss. jack_midi_dump hands
events from its process callback to its printing thread through a ring buffer of
127 messages and drops what does not fit, without a word; a burst of more than 127
events in one period (a server that stalled for seconds and then delivers the
backlog at once) or a printing thread starved for a few periods on a loaded machine
loses events, which a test then blames on the sender. Here the process callback
copies each event into an unbounded queue, so nothing is lost while memory lasts.

Output, one line per event, in jack_midi_dump's ``-a`` format so that the same parser
reads both: the absolute frame time (the server's frame clock at the start of the
period plus the event's offset), a colon, and the bytes in hex. The client is named
CLIENT and its port CLIENT:input. The first line is "Ready", printed once the process
callback has run: a client that JACK activated but never runs (jackd 1.9.21 can leave
one so when other clients come and go) records nothing, and the harness must know.
SIGINT or SIGTERM closes the client and prints what is still queued; the last line is
"Shutting down".
"""

from __future__ import annotations

import collections
import signal
import sys
import threading

import jack


def main(name: str) -> int:
    client = jack.Client(name, no_start_server=True)
    port = client.midi_inports.register("input")
    queued: collections.deque[tuple[int, bytes]] = collections.deque()  # append/popleft are thread-safe
    arrived = threading.Event()
    stop = threading.Event()
    running = threading.Event()

    @client.set_process_callback
    def process(frames: int) -> None:
        running.set()
        start = client.last_frame_time
        for offset, data in port.incoming_midi_events():
            queued.append((start + offset, bytes(data)))  # data lives only during this callback
        if queued:
            arrived.set()

    @client.set_shutdown_callback
    def shutdown(status: jack.Status, reason: str) -> None:
        stop.set()
        arrived.set()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        arrived.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def drain() -> None:
        while queued:
            frame, data = queued.popleft()
            sys.stdout.write(f"{frame:7d}: {' '.join(f'{b:02x}' for b in data)}\n")
        sys.stdout.flush()

    client.activate()
    while not running.wait(0.05):
        if stop.is_set():
            break
    else:
        sys.stdout.write("Ready\n")
        sys.stdout.flush()
    while not stop.is_set():
        arrived.wait(0.05)
        arrived.clear()
        drain()
    client.deactivate()
    client.close()
    drain()
    sys.stdout.write("Shutting down\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python jack_record.py CLIENT")
    sys.exit(main(sys.argv[1]))
