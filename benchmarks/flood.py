"""Output timing with and without a flood of MIDI input: 10,000 messages a second for 10 s.

Usage: python benchmarks/flood.py [--seconds 10] [--rate 10000] [--model FILE] [--json benchmarks/results/flood.json]

Two runs, side by side in one process: the live session plays the model (default:
the shipped one) with the real clock for ``seconds``; in the second, a thread
feeds its input callback ``rate`` random messages a second (CCs on the mapped
knobs and elsewhere, notes, program changes, sysex). Reports event lateness
(median, p99, max) for both, and how many generations the flood caused.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np

from livegan.live.session import LiveSession, SessionOptions
from livegan.model.engine import load_model
from livegan.model.locate import default_model_path
from livegan.mood.controls import ControlMap
from livegan.mood.presets import load_moods
from livegan.timing.clock import MonotonicClock


class NullPort(mido.ports.BaseOutput):
    def _send(self, msg):
        pass


def random_message(rng: np.random.Generator) -> mido.Message:
    kind = rng.integers(0, 5)
    if kind < 2:
        return mido.Message("control_change", channel=int(rng.integers(0, 16)), control=int(rng.choice([20, 21, 22, 23, 1, 7, 64])),
                            value=int(rng.integers(0, 128)))
    if kind == 2:
        return mido.Message("note_on", note=int(rng.integers(0, 128)), velocity=int(rng.integers(0, 128)))
    if kind == 3:
        return mido.Message("program_change", program=int(rng.integers(0, 128)))
    return mido.Message("sysex", data=[int(x) for x in rng.integers(0, 128, int(rng.integers(0, 32)))])


def play(generator, seconds: float, rate: float) -> dict:
    clock = MonotonicClock()
    session = LiveSession(generator, load_moods(), ControlMap(), NullPort(), clock, SessionOptions(bpm=120, seed=0))
    calls = [0]
    original = generator.generate

    def counting(latents, mood):
        calls[0] += 1
        return original(latents, mood)

    generator.generate = counting
    done, sent = threading.Event(), [0]

    def flood():
        rng, start = np.random.default_rng(0), time.perf_counter()
        while not done.is_set():
            due = start + sent[0] / rate
            if time.perf_counter() < due:
                time.sleep(min(0.001, due - time.perf_counter()))
                continue
            session.on_message(random_message(rng))
            sent[0] += 1

    threading.Timer(seconds, clock.stop.set).start()
    flooder = threading.Thread(target=flood, daemon=True)
    if rate:
        flooder.start()
    session.run()
    done.set()
    generator.generate = original
    return {"messages": sent[0], "generations": calls[0], "bars": session.sequencer.bars_played,
            **session.sequencer.lateness.summary()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "flood.json")
    args = parser.parse_args()
    sys.setswitchinterval(0.0005)
    generator = load_model(args.model or default_model_path(), threads=1)
    result = {"quiet": play(generator, args.seconds, 0), "flood": play(generator, args.seconds, args.rate)}
    print(f"{'run':<7}{'messages':>10}{'gens':>6}{'events':>8}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}")
    for name, r in result.items():
        print(f"{name:<7}{r['messages']:>10}{r['generations']:>6}{r['events']:>8}{r['median_ms']:>11.3f}{r['p99_ms']:>9.3f}{r['max_ms']:>9.3f}")
    ratio = result["flood"]["p99_ms"] / max(result["quiet"]["p99_ms"], 1e-9)
    print(f"p99 lateness with the flood / without: {ratio:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
