"""Each architecture, end to end: trained a few steps, exported, streamed by the daemon to a real JACK client.

For musegan, lstm, vae and coconet: ``train`` on tiny data, ``export`` (which checks torch
against ONNX Runtime), then ``livegan run --api jack --record`` in its own process
with torch unimportable, recorded by a real JACK client (``jack_record.py``). The
daemon picks the runtime from the model's metadata; the test passes no flag for it.
What the client heard must be what the daemon says it sent, and every note ends.

A model trained a few steps plays near-random probabilities, so each run sets
``--threshold`` at the 99th percentile of its model's own probabilities (a step
model samples, and plays at its own temperature): about one cell in a hundred
sounds, enough notes to check without flooding the port. The VAE trains 300 steps
at a high learning rate first: before that its decoder is flat (every cell about
0.02, under the daemon's lowest threshold, 0.05) and would play nothing.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from daemonkit import OUT, note_pairs, note_streams, sent_events

BPM = 200
BARS = 4


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """arch -> an ONNX model exported from a short run on tiny data."""
    from livegan.export.onnx import export_onnx
    from test_training_helpers import tiny_config, tiny_dataset, tiny_voice_dataset

    from livegan.training.loop.train import train

    folder = tmp_path_factory.mktemp("archs")
    data = tiny_dataset(folder / "data.npz")
    voices = tiny_voice_dataset(folder / "voices.npz")
    models = {}
    runs = {"musegan": {}, "lstm": {}, "vae": {"steps": 300, "lr_g": 0.01}, "coconet": {}}
    for arch, settings in runs.items():
        config = tiny_config(arch, sample_every=1000, checkpoint_every=1000, **settings)
        last = train(voices if arch == "coconet" else data, config, folder / arch, progress=False)
        models[arch] = folder / f"{arch}.onnx"
        export_onnx(last, models[arch])
    return models


def threshold_for_sparse_notes(path: Path) -> list[str]:
    """``--threshold`` at the 99th percentile of a phrase model's probabilities; none for a step model."""
    from livegan.model.engine import load_model

    generator = load_model(path)
    if generator.info.runtime != "phrase":  # a step or infill model samples its notes
        return []
    rng = np.random.default_rng(0)
    latents = {s.name: rng.standard_normal((8, *s.shape), dtype=np.float32) for s in generator.latents}
    probs = generator.generate(latents, rng.uniform(-1, 1, (8, 2)).astype(np.float32))
    return ["--threshold", f"{float(np.clip(np.quantile(probs, 0.99), 0.01, 0.99)):.4f}"]


@pytest.mark.parametrize("arch, runtime", [("musegan", "phrase"), ("lstm", "step"), ("vae", "phrase"), ("coconet", "infill")])
def test_an_exported_model_of_each_arch_streams_to_a_jack_client_and_every_note_ends(
        arch, runtime, exported, tmp_path, jack_server, midi_dump, daemon_factory):
    take = tmp_path / "take.mid"
    daemon = daemon_factory("--model", str(exported[arch]), "--bpm", str(BPM), "--bars", str(BARS), "--seed", "3",
                            "--no-input", "--record", str(take), *threshold_for_sparse_notes(exported[arch]))
    jack_server.wait_for_port(OUT, timeout=20)
    dump = midi_dump(source=OUT)
    daemon.wait_line(f"{runtime} runtime", timeout=20)  # the runtime came from the metadata
    daemon.wait_line(f"stopped after {BARS} bars", timeout=30)
    assert daemon.stop(signal.SIGINT, timeout=30) == 0, daemon.log
    events = dump.stop()

    assert not any("Traceback" in line for line in daemon.log), daemon.log
    sent = sent_events(take)
    (sent_notes, sent_open), (heard_notes, heard_open) = note_pairs(sent), note_pairs(events)
    assert len(sent_notes) >= 4, f"{arch}: the daemon sent {len(sent_notes)} notes"
    assert not sent_open and not heard_open, "every note-on has its note-off"
    assert max_sounding_per_channel(sent) == 1, "each voice (a monophonic track, one per channel) sounds one note at a time"
    if not jack_server.reported_lost_cycles():  # a non-realtime jackd may drop MIDI only where it logs lost cycles
        assert note_streams(events) == note_streams(sent)


def max_sounding_per_channel(events) -> int:
    """The most notes sounding at once on any one channel, in time order (events as ``sent_events`` gives them)."""
    import mido

    sounding: dict[int, int] = {}
    most = 0
    for event in events:
        m = mido.Message.from_bytes(list(event.data))
        if m.type == "note_on" and m.velocity:
            sounding[m.channel] = sounding.get(m.channel, 0) + 1
            most = max(most, sounding[m.channel])
        elif m.type in ("note_on", "note_off"):
            sounding[m.channel] = sounding.get(m.channel, 0) - 1
    return most
