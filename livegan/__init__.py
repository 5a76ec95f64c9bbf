"""LiveGAN: a real-time generative MIDI instrument.

Layers, each in its own module and none of them importing torch:

- ``contract``  what an ONNX generator must declare (tensors, tracks, grid).
- ``engine``    ONNX Runtime session: latents and mood in, piano rolls out.
- ``roll``      piano roll <-> notes; ``midi`` notes <-> MIDI messages and files.
- ``mood`` / ``latent``  the mood state and the latent walk that condition generation.
- ``clock`` / ``scheduler``  absolute-deadline timing and the bar sequencer.
- ``ports`` / ``controls``  MIDI ports (rtmidi through mido) and the CC/PC map.

The torch side (networks, training, export) lives in ``livegan.training`` and is
imported only by the commands that need it.
"""

__version__ = "0.1.0"
