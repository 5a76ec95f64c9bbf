"""LiveGAN: a real-time generative MIDI instrument.

One folder per layer; imports point only down this list (``tests/test_layers.py`` checks it):

- ``errors``      :class:`~livegan.errors.UserError` (exit 2) and the one error policy.
- ``model``       the ONNX model contract, the ONNX Runtime engine, where the shipped model is.
- ``music``       piano roll <-> notes, performance, standard MIDI files, clips, key and density analysis.
- ``mood``        mood presets, the control map (CC / program change), MIDI learn.
- ``generation``  ``Bar`` and the generator protocols, the runtimes, the composer, latent walk, guidance.
- ``ports``       rtmidi and memory ports, the note tracker, taps (record, synth), the JACK watchdog.
- ``timing``      clocks, transports (internal, MIDI clock, Link), the sequencer.
- ``live``        the session that wires a live run; the status line.
- ``offline``     render (the live path on a fake clock), WAV, piano-roll pictures.
- ``evaluation``  metrics against the data, mood control, originality, reports (nothing below imports it).
- ``training``    torch: datasets (``data``), networks (``nets``), the training loop (``loop``).
- ``export``      torch -> ONNX (the top-level ``export/`` folder, installed as ``livegan.export``).
- ``commands``    the CLI's commands, thin: they parse options and call the layers.

Only ``training``, ``export`` and the commands that need them import torch.
"""

__version__ = "0.1.0"
