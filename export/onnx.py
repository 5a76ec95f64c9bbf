"""``livegan export``: a checkpoint -> an ONNX model that carries its contract, checked twice.

The network is rebuilt from the checkpoint's saved config (its ``arch``), wrapped
in an export-only module (:mod:`livegan.export.wrappers`) that declares what the daemon receives, exported with a
dynamic batch axis, and given the :class:`~livegan.model.contract.ModelInfo` JSON under
metadata key ``livegan``:

- MuseGAN and the VAE's decoder, runtime ``"phrase"``: (``z`` [N, Z], ``mood``
  [N, 2]) -> ``roll`` [N, T, B, S, P] probabilities in [0, 1];
- the LSTM, runtime ``"step"``: (``frame`` [N, T, P], ``position`` [N, S], ``mood``,
  ``state`` [N, Ls]) -> (``logits`` [N, T, P], ``state_out`` [N, Ls]);
- Coconet, runtime ``"infill"``: (``notes`` [N, V, 2, T, R], ``mask`` [N, V, T], ``meter``
  [N, F, T], ``mood`` [N, 3]) -> ``logits`` [N, V, T, 2P + 1], with a free time axis;
- the VAE's encoder, a sidecar ``NAME.encoder.onnx`` named by the model's
  ``encoder`` field and carrying the same metadata: (``roll`` [N, T, B, S, P] of
  0/1, ``mood``) -> ``z`` [N, Z].

Then the same random inputs run through torch and ONNX Runtime (they must agree
within 1e-4; a step model over consecutive steps, each fed the state the step
before returned), and the saved file is loaded the way the daemon loads it. Files
are written in a hidden folder beside the output and moved into place only once
every check passed, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from livegan.export.wrappers import (
    ExportedDecoder,
    ExportedEncoder,
    ExportedGenerator,
    ExportedInfill,
    ExportedStep,
)
from torch import nn

from livegan.errors import UserError
from livegan.model.contract import (
    ENCODER_INPUT_ROLL,
    ENCODER_OUTPUT_LATENT,
    INFILL_INPUT_MASK,
    INFILL_INPUT_METER,
    INFILL_INPUT_NOTES,
    INFILL_MOOD_SIZE,
    INPUT_LATENT,
    INPUT_MOOD,
    METADATA_KEY,
    OUTPUT_ROLL,
    STEP_INPUT_FRAME,
    STEP_INPUT_POSITION,
    STEP_INPUT_STATE,
    STEP_OUTPUT_LOGITS,
    STEP_OUTPUT_STATE,
    ModelInfo,
)
from livegan.training.config import Config
from livegan.training.loop.checkpoint import load_checkpoint, require_parts
from livegan.training.nets.coconet import Coconet
from livegan.training.nets.lstm import MoodLstm
from livegan.training.nets.musegan import Generator
from livegan.training.nets.vae import Vae

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
OPSET = 17
PARITY_STEPS = 20  # consecutive steps a step model is compared over, its state fed back


@dataclass(frozen=True)
class Rebuilt:
    """What a checkpoint exports: the model file's module, the encoder sidecar's (VAE only), the metadata."""

    module: nn.Module
    info: ModelInfo
    encoder: nn.Module | None = None


def rebuild(checkpoint: str | Path) -> tuple[nn.Module, ModelInfo]:
    """The eval-mode export module of the model file and its ModelInfo, from a checkpoint's config and weights."""
    parts = rebuild_parts(checkpoint)
    return parts.module, parts.info


def rebuild_parts(checkpoint: str | Path) -> Rebuilt:
    """Every export module of a checkpoint (the VAE's encoder too) and its ModelInfo; one-line UserErrors."""
    state, meta = load_checkpoint(checkpoint)
    try:
        config = Config.from_dict(meta["config"], source=f"checkpoint '{checkpoint}'")
        require_parts(state, config.arch, checkpoint)
        saved = dict(meta["info"])
        if config.data.monophonic:  # checkpoints written before tracks declared it
            saved["tracks"] = [{**t, "monophonic": True} for t in saved["tracks"]]
        info = ModelInfo.from_dict(saved)
        return _build(config, info, state["generator"])
    except (KeyError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise UserError(f"checkpoint '{checkpoint}' does not match its saved config ({first})") from None


def _build(config: Config, info: ModelInfo, weights: dict[str, torch.Tensor]) -> Rebuilt:
    n_tracks = len(info.tracks)
    if config.arch == "lstm":
        lstm = MoodLstm(config.model, config.data, n_tracks)
        lstm.load_state_dict(weights)
        return Rebuilt(ExportedStep(lstm), info)
    if config.arch == "coconet":
        coconet = Coconet(config.model, config.data, n_tracks)
        coconet.load_state_dict(weights)
        return Rebuilt(ExportedInfill(coconet), info)
    if config.arch == "vae":
        vae = Vae(config.model, config.data, n_tracks)
        vae.load_state_dict(weights)
        return Rebuilt(ExportedDecoder(vae.decoder), info, ExportedEncoder(vae.encoder))
    generator = Generator(config.model, config.data, n_tracks)
    generator.load_state_dict(weights)
    return Rebuilt(ExportedGenerator(generator), info)


def export_onnx(checkpoint: str | Path, out: str | Path, extra: dict[str, Any] | None = None,
                trained_on: str | None = None, threshold: float | None = None,
                match_density: str | Path | None = None, sampling: dict[str, Any] | None = None) -> ModelInfo:
    """Write ``out`` (.onnx), and beside it ``<stem>.encoder.onnx`` for a VAE, from ``checkpoint``.

    Raises UserError when the numbers do not agree. ``extra`` is merged into the
    metadata's ``extra``; ``trained_on`` replaces the dataset description recorded
    at training time; ``threshold`` sets the note threshold the daemon plays at, and
    ``match_density`` (a dataset) computes it instead: see :func:`density_threshold`. ``sampling``
    sets how the daemon samples the model (``iterations``, ``temperature``, ``mood_strength``).
    """
    parts = rebuild_parts(checkpoint)
    out = Path(out)
    if match_density is not None:
        threshold, calibration = density_threshold(parts, match_density)
        extra = {**(extra or {}), "threshold_rule": calibration}
    changes = {"extra": {**parts.info.extra, **(extra or {})}, "trained_on": trained_on or parts.info.trained_on,
               "encoder": f"{out.stem}.encoder.onnx" if parts.encoder is not None else "",
               "threshold": parts.info.threshold if threshold is None else float(threshold), **(sampling or {})}
    info = ModelInfo.from_dict({**parts.info.to_dict(), **changes})
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        model_path = staging / out.name
        difference = _write_checked(parts.module, info, model_path, out)
        if parts.encoder is not None:
            difference = max(difference, _write_checked(parts.encoder, info, staging / info.encoder, out, encoder=True))
        check_loads(model_path, info)
        _move_into_place(staging, out, info.encoder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("torch and ONNX Runtime agree within %.2e (max |diff|)", difference)
    return info


def density_threshold(parts, dataset: str | Path, samples: int = 512, seed: int = 0) -> tuple[float, str]:
    """The note threshold at which a phrase model's prior samples sound as many cells as the data does.

    A VAE decoder trained with BCE hedges: from latents of the prior its probabilities
    rarely reach 0.5, and at 0.5 it plays almost nothing. This picks the threshold
    that matches the share of sounding cells in ``dataset`` (the (1 - share) quantile
    of ``samples`` phrases at moods drawn from the data's labels). A step model
    samples its notes and has no use for it.
    """
    from livegan.music.dataset import load_phrases

    if parts.info.runtime != "phrase":
        raise UserError(f"--match-density applies to phrase models; this checkpoint is a {parts.info.runtime} model "
                        "(it samples its notes: set its temperature instead)")
    data = load_phrases(dataset)
    share = float(data.phrases.mean())
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, parts.info.latent_size, generator=gen)
    mood = torch.as_tensor(data.labels[torch.randint(0, len(data.labels), (samples,), generator=gen).numpy()])
    with torch.no_grad():
        probs = parts.module(z, mood).numpy()
    threshold = min(0.95, max(0.05, float(np.quantile(probs, 1.0 - share))))
    rule = (f"{threshold:.3f}: {share:.2%} of cells sound in {Path(dataset).name}, and in {samples} phrases "
            "from the prior at the data's moods")
    log.info("threshold %s", rule)
    return threshold, rule


def _write_checked(module: nn.Module, info: ModelInfo, path: Path, out: Path, encoder: bool = False) -> float:
    """Export one graph with the metadata and compare it with torch; returns the largest difference."""
    if encoder:
        _export_graph(module, _encoder_example(info), [ENCODER_INPUT_ROLL, INPUT_MOOD], [ENCODER_OUTPUT_LATENT], path)
    elif info.runtime == "step":
        _export_graph(module, _step_example(info), [STEP_INPUT_FRAME, STEP_INPUT_POSITION, INPUT_MOOD, STEP_INPUT_STATE],
                      [STEP_OUTPUT_LOGITS, STEP_OUTPUT_STATE], path)
    elif info.runtime == "infill":
        _export_graph(module, _infill_example(info), list(INFILL_INPUTS), [STEP_OUTPUT_LOGITS], path,
                      time_axes={INFILL_INPUT_NOTES: 3, INFILL_INPUT_MASK: 2, INFILL_INPUT_METER: 2, STEP_OUTPUT_LOGITS: 2})
    else:
        _export_graph(module, (torch.randn(2, info.latent_size), torch.zeros(2, 2)), [INPUT_LATENT, INPUT_MOOD],
                      [OUTPUT_ROLL], path)
    _attach_metadata(path, info)
    if encoder:
        return check_encoder_parity(module, path, info, target=out.with_name(info.encoder))
    if info.runtime == "step":
        return check_step_parity(module, path, info, target=out)
    if info.runtime == "infill":
        return check_infill_parity(module, path, info, target=out)
    return check_parity(module, path, info, target=out)


def _move_into_place(staging: Path, out: Path, encoder: str) -> None:
    """Rename the checked files over the outputs (the encoder first); a failure leaves no half export."""
    placed = []
    try:
        if encoder:
            os.replace(staging / encoder, out.with_name(encoder))
            placed.append(out.with_name(encoder))
        os.replace(staging / out.name, out)
    except OSError as exc:
        for path in placed:
            path.unlink(missing_ok=True)
        raise UserError(f"cannot write '{out}' ({exc.strerror or exc})") from None


def _step_example(info: ModelInfo, batch: int = 2) -> tuple[torch.Tensor, ...]:
    frame = torch.zeros(batch, len(info.tracks), info.n_pitches)
    position = torch.zeros(batch, info.steps_per_bar)
    position[:, 0] = 1.0
    return frame, position, torch.zeros(batch, 2), torch.zeros(batch, info.latent_size)


INFILL_INPUTS = (INFILL_INPUT_NOTES, INFILL_INPUT_MASK, INFILL_INPUT_METER, INPUT_MOOD)


def _infill_example(info: ModelInfo, batch: int = 2, bars: int | None = None, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random well-formed inputs of an infill model: one-hot cells, half of them masked, ``bars`` bars (default: the window)."""
    gen = torch.Generator().manual_seed(seed)
    v, rows, steps = len(info.tracks), info.n_pitches + 1, (bars or info.bars) * info.steps_per_bar
    sounding = torch.nn.functional.one_hot(torch.randint(0, rows, (batch, v, steps), generator=gen), rows).float()
    struck = sounding * (torch.rand(batch, v, steps, 1, generator=gen) < 0.3).float()
    notes = torch.stack([sounding, struck], dim=2)
    mask = (torch.rand(batch, v, steps, generator=gen) < 0.5).float()
    meter = torch.rand(batch, info.steps_per_beat + info.beats_per_bar + 1, steps, generator=gen).round()
    mood = torch.cat([torch.rand(batch, 2, generator=gen) * 2 - 1, torch.ones(batch, INFILL_MOOD_SIZE - 2)], dim=1)
    return notes, mask, meter, mood


def _encoder_example(info: ModelInfo, batch: int = 2) -> tuple[torch.Tensor, ...]:
    return torch.zeros(batch, *info.roll_shape), torch.zeros(batch, 2)


def _export_graph(module: nn.Module, example: tuple[torch.Tensor, ...], inputs: list[str], outputs: list[str],
                  out: Path, time_axes: dict[str, int] | None = None) -> None:
    axes = {name: {0: "batch"} for name in (*inputs, *outputs)}
    for name, axis in (time_axes or {}).items():
        axes[name][axis] = "steps"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, example, str(out), input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)


def _attach_metadata(path: Path, info: ModelInfo) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    model.producer_name = "livegan"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _agree(expected: list[np.ndarray], got: list[np.ndarray], target: Path) -> float:
    """Max |torch - ONNX Runtime| over pairs of arrays; a UserError naming ``target`` above :data:`TOLERANCE`."""
    shapes_match = all(e.shape == g.shape for e, g in zip(expected, got))
    difference = max(float(np.abs(g - e).max()) for e, g in zip(expected, got)) if shapes_match else float("inf")
    if not difference <= TOLERANCE:
        raise UserError(f"export check failed for '{target}': ONNX Runtime differs from torch by {difference:.2e} "
                        f"(limit {TOLERANCE:.0e}); nothing was written")
    return difference


def check_parity(module: nn.Module, path: Path, info: ModelInfo, batch: int = 7, seed: int = 0,
                 target: Path | None = None) -> float:
    """A phrase model: max |torch - ONNX Runtime| on random latents and moods; UserError above :data:`TOLERANCE`."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, info.latent_size, generator=gen)
    mood = torch.rand(batch, 2, generator=gen) * 2.0 - 1.0
    with torch.no_grad():
        expected = module(z, mood).numpy()
    (got,) = _session(path).run([OUTPUT_ROLL], {INPUT_LATENT: z.numpy(), INPUT_MOOD: mood.numpy()})
    return _agree([expected], [got], target or path)


def check_step_parity(module: nn.Module, path: Path, info: ModelInfo, batch: int = 3, steps: int = PARITY_STEPS,
                      seed: int = 0, target: Path | None = None) -> float:
    """A step model over ``steps`` consecutive steps of random frames, torch and ONNX Runtime each fed its own state.

    Compares the logits and the state of every step; UserError above :data:`TOLERANCE`.
    """
    gen = torch.Generator().manual_seed(seed)
    frames = (torch.rand(steps, batch, len(info.tracks), info.n_pitches, generator=gen) < 0.05).float()
    mood = torch.rand(batch, 2, generator=gen) * 2.0 - 1.0
    eye = torch.eye(info.steps_per_bar)
    session = _session(path)
    state_t = torch.zeros(batch, info.latent_size)
    state_o = state_t.numpy()
    expected, got = [], []
    for t in range(steps):
        position = eye[t % info.steps_per_bar].expand(batch, -1).contiguous()
        with torch.no_grad():
            logits_t, state_t = module(frames[t], position, mood, state_t)
        feeds = {STEP_INPUT_FRAME: frames[t].numpy(), STEP_INPUT_POSITION: position.numpy(), INPUT_MOOD: mood.numpy(),
                 STEP_INPUT_STATE: state_o}
        logits_o, state_o = session.run([STEP_OUTPUT_LOGITS, STEP_OUTPUT_STATE], feeds)
        expected += [logits_t.numpy(), state_t.numpy()]
        got += [logits_o, state_o]
    return _agree(expected, got, target or path)


def check_infill_parity(module: nn.Module, path: Path, info: ModelInfo, target: Path | None = None) -> float:
    """An infill model: max |torch - ONNX Runtime| of the logits on random cells, over the trained window
    and over windows of one and two bars (the time axis is free); UserError above :data:`TOLERANCE`."""
    session = _session(path)
    expected, got = [], []
    for seed, bars in enumerate((None, 1, 2)):
        inputs = _infill_example(info, batch=3, bars=bars, seed=seed + 1)
        with torch.no_grad():
            expected.append(module(*inputs).numpy())
        got += session.run([STEP_OUTPUT_LOGITS], {n: x.numpy() for n, x in zip(INFILL_INPUTS, inputs)})
    return _agree(expected, got, target or path)


def check_encoder_parity(module: nn.Module, path: Path, info: ModelInfo, batch: int = 5, seed: int = 0,
                         target: Path | None = None) -> float:
    """An encoder: max |torch - ONNX Runtime| of z on random sparse 0/1 rolls; UserError above :data:`TOLERANCE`."""
    gen = torch.Generator().manual_seed(seed)
    roll = (torch.rand(batch, *info.roll_shape, generator=gen) < 0.05).float()
    mood = torch.rand(batch, 2, generator=gen) * 2.0 - 1.0
    with torch.no_grad():
        expected = module(roll, mood).numpy()
    (got,) = _session(path).run([ENCODER_OUTPUT_LATENT], {ENCODER_INPUT_ROLL: roll.numpy(), INPUT_MOOD: mood.numpy()})
    return _agree([expected], [got], target or path)


def check_loads(path: Path, info: ModelInfo) -> None:
    """Load the saved file as the daemon does (``livegan.model.engine.load_model``) and generate one phrase.

    A model with an encoder also encodes that phrase through its sidecar.
    """
    from livegan.model.engine import OnnxEncoder, load_model

    model = load_model(path)
    if info.runtime == "infill":
        from livegan.generation.gibbs import Schedule, gibbs

        v, steps = len(info.tracks), info.bars * info.steps_per_bar
        meter = np.zeros((1, info.steps_per_beat + info.beats_per_bar + 1, steps), np.float32)
        pitch, _ = gibbs(model.predict, np.zeros((1, v, steps), np.int16), np.zeros((1, v, steps), bool),
                         np.ones((1, v, steps), bool), meter, np.array([[0.0, 0.0, 1.0]], np.float32), info.n_pitches,
                         np.random.default_rng(0), Schedule(iterations=2))
        if pitch.shape != (1, v, steps):
            raise UserError(f"'{path}' loads in the daemon but samples shape {pitch.shape}, expected {(1, v, steps)}")
        return
    rng = np.random.default_rng(0)
    latents = {spec.name: rng.standard_normal((1, *spec.shape)).astype(np.float32) for spec in model.latents}
    mood = np.zeros((1, 2), dtype=np.float32)
    roll = model.generate(latents, mood)
    if tuple(roll.shape[1:]) != info.roll_shape:
        raise UserError(f"'{path}' loads in the daemon but generates shape {roll.shape}, expected {info.roll_shape}")
    if info.encoder:
        z = OnnxEncoder(model).encode(roll > info.threshold, mood)
        if z.shape != (1, info.latent_size):
            raise UserError(f"'{path}': its encoder gives z of shape {z.shape}, expected (1, {info.latent_size})")
