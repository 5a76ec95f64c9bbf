"""Tiny ONNX generators built with onnx's helper API (no torch), for tests of the live path.

The graph is ``roll = sigmoid(reshape([z, mood, extras] @ W + b))`` with seeded
weights: small, fast, deterministic for given inputs, and it honours the contract.
``density_gain`` adds ``arousal * gain`` to every logit, so arousal visibly changes
how many notes sound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from livegan.model.contract import METADATA_KEY, ModelInfo, Track

TEST_TRACKS = (Track("Drums", 0, True), Track("Piano", 0, False), Track("Bass", 33, False))


def tiny_info(**overrides: Any) -> ModelInfo:
    """A small grid: 3 tracks, 2 bars of 4/4 at 4 steps per beat, 24 pitches from C3."""
    fields: dict[str, Any] = dict(
        tracks=TEST_TRACKS, lowest_pitch=48, n_pitches=24, steps_per_beat=4, beats_per_bar=4, bars=2,
        latent_size=8, threshold=0.5, moods={"uplifting": (0.8, 0.6)}, trained_on="nothing: a test model",
        architecture="test-linear",
    )
    fields.update(overrides)
    return ModelInfo(**fields)


def build_model(path: Path, info: ModelInfo | None = None, *, extra_latent: int = 0, seed: int = 0,
                bias: float = -2.5, density_gain: float = 1.5, metadata: str | None | bool = True,
                output_name: str = "roll", roll_shape: tuple[int, ...] | None = None,
                fail_below_valence: float | None = None) -> Path:
    """Write a tiny generator to ``path`` and return it.

    metadata : True writes ``info`` as the contract says; a string writes that text
        instead (to test validation); False or None writes none.
    roll_shape : declare another output shape than ``info`` implies (to test validation).
    fail_below_valence : make the model fail at run time (an impossible reshape) whenever the
        first item's valence is below this, to test what the daemon does when generation raises.
    """
    info = info or tiny_info()
    rng = np.random.default_rng(seed)
    shape = roll_shape or info.roll_shape
    out_size = int(np.prod(shape))
    in_size = info.latent_size + 2 + extra_latent
    w = rng.standard_normal((in_size, out_size)).astype(np.float32) * 0.8
    w[info.latent_size + 1, :] = density_gain  # arousal row: more arousal, more notes
    b = np.full(out_size, bias, dtype=np.float32)

    inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", info.latent_size]),
              helper.make_tensor_value_info("mood", TensorProto.FLOAT, ["N", 2])]
    concat_inputs = ["z", "mood"]
    if extra_latent:
        inputs.append(helper.make_tensor_value_info("z_temporal", TensorProto.FLOAT, ["N", extra_latent]))
        concat_inputs.append("z_temporal")
    nodes = [
        helper.make_node("Concat", concat_inputs, ["x"], axis=1),
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["flat"]),
        helper.make_node("Reshape", ["flat", "shape_used"], [output_name]),
    ]
    if fail_below_valence is None:
        nodes.insert(0, helper.make_node("Identity", ["shape"], ["shape_used"]))
    else:
        nodes[:0] = [
            helper.make_node("Slice", ["mood", "zero", "one", "zero"], ["mood0"]),  # first item's (v, a)
            helper.make_node("Slice", ["mood0", "zero", "one", "one"], ["valence"]),  # [[v]]
            helper.make_node("Less", ["valence", "limit"], ["fail"]),
            helper.make_node("Reshape", ["fail", "scalar"], ["fail1"]),
            helper.make_node("Where", ["fail1", "bad_shape", "shape"], ["shape_used"]),
        ]
    initializers = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b"),
                    numpy_helper.from_array(np.array([-1, *shape], dtype=np.int64), "shape"),
                    numpy_helper.from_array(np.array([-1, 7, *shape[1:]], dtype=np.int64), "bad_shape"),
                    numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
                    numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
                    numpy_helper.from_array(np.array([1], dtype=np.int64), "scalar"),
                    numpy_helper.from_array(np.array([[fail_below_valence or 0.0]], dtype=np.float32), "limit")]
    output = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", *shape])
    graph = helper.make_graph(nodes, "tiny-livegan", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is True:
        helper.set_model_props(model, {METADATA_KEY: info.to_json()})
    elif isinstance(metadata, str):
        helper.set_model_props(model, {METADATA_KEY: metadata})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_step_model(path: Path, info: ModelInfo | None = None, *, state_size: int = 16, seed: int = 0,
                     bias: float = -3.0, hold: float = 4.0, density_gain: float = 1.5, temperature: float = 1.0) -> Path:
    """Write a tiny step model (runtime ``"step"``) to ``path``: a one-layer tanh RNN.

    ``state_out = tanh([frame, position, mood, state] @ Wh)``;
    ``logits = [state_out, frame] @ Wl + bias``, where ``Wl`` adds ``hold`` to a note that
    sounded at the step before (so notes are held) and ``arousal * density_gain`` to every note.
    """
    info = info or tiny_info(latent_size=state_size, runtime="step", temperature=temperature,
                             architecture="test-rnn")
    t, p, s, h = len(info.tracks), info.n_pitches, info.steps_per_bar, info.latent_size
    rng = np.random.default_rng(seed)
    tp = t * p
    wh = rng.standard_normal((tp + s + 2 + h, h)).astype(np.float32) * 0.5
    wl = rng.standard_normal((h + tp, tp)).astype(np.float32) * 0.5
    wl[h:] += np.eye(tp, dtype=np.float32) * hold
    arousal = np.zeros((1, tp), np.float32)
    inputs = [helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["N", t, p]),
              helper.make_tensor_value_info("position", TensorProto.FLOAT, ["N", s]),
              helper.make_tensor_value_info("mood", TensorProto.FLOAT, ["N", 2]),
              helper.make_tensor_value_info("state", TensorProto.FLOAT, ["N", h])]
    nodes = [
        helper.make_node("Reshape", ["frame", "flat_shape"], ["frame_flat"]),
        helper.make_node("Concat", ["frame_flat", "position", "mood", "state"], ["x"], axis=1),
        helper.make_node("MatMul", ["x", "Wh"], ["xh"]),
        helper.make_node("Tanh", ["xh"], ["state_out"]),
        helper.make_node("Concat", ["state_out", "frame_flat"], ["y"], axis=1),
        helper.make_node("MatMul", ["y", "Wl"], ["yl"]),
        helper.make_node("Slice", ["mood", "one", "two", "one"], ["arousal"]),  # [N, 1]
        helper.make_node("MatMul", ["arousal", "gain"], ["lift"]),
        helper.make_node("Add", ["yl", "lift"], ["yl2"]),
        helper.make_node("Add", ["yl2", "b"], ["logits_flat"]),
        helper.make_node("Reshape", ["logits_flat", "logit_shape"], ["logits"]),
    ]
    arousal[:] = density_gain
    initializers = [numpy_helper.from_array(wh, "Wh"), numpy_helper.from_array(wl, "Wl"),
                    numpy_helper.from_array(np.full(tp, bias, np.float32), "b"),
                    numpy_helper.from_array(arousal, "gain"),
                    numpy_helper.from_array(np.array([-1, tp], dtype=np.int64), "flat_shape"),
                    numpy_helper.from_array(np.array([-1, t, p], dtype=np.int64), "logit_shape"),
                    numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
                    numpy_helper.from_array(np.array([2], dtype=np.int64), "two")]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", t, p]),
               helper.make_tensor_value_info("state_out", TensorProto.FLOAT, ["N", h])]
    graph = helper.make_graph(nodes, "tiny-livegan-step", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {METADATA_KEY: info.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_vae_pair(path: Path, seed: int = 0) -> Path:
    """A tiny phrase model at ``path`` with an encoder beside it, as a VAE export writes them.

    The encoder is ``z = flatten(roll) @ E`` with ``E`` the decoder's weights' transpose, so
    a roll encodes to a latent that decodes towards it.
    """
    encoder_name = path.stem + ".encoder.onnx"
    info = tiny_info(encoder=encoder_name, architecture="test-vae")
    build_model(path, info, seed=seed)
    decoder = onnx.load(str(path))
    w = next(numpy_helper.to_array(t) for t in decoder.graph.initializer if t.name == "W")[:info.latent_size]
    shape = info.roll_shape
    inputs = [helper.make_tensor_value_info("roll", TensorProto.FLOAT, ["N", *shape]),
              helper.make_tensor_value_info("mood", TensorProto.FLOAT, ["N", 2])]
    nodes = [helper.make_node("Reshape", ["roll", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "E"], ["raw"]),
             helper.make_node("Mul", ["raw", "scale"], ["z"])]
    initializers = [numpy_helper.from_array(np.ascontiguousarray(w.T), "E"),
                    numpy_helper.from_array(np.array([-1, int(np.prod(shape))], dtype=np.int64), "flat_shape"),
                    numpy_helper.from_array(np.array(0.1, dtype=np.float32), "scale")]
    graph = helper.make_graph(nodes, "tiny-livegan-encoder", inputs,
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", info.latent_size])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {METADATA_KEY: info.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path.with_name(encoder_name)))
    return path
