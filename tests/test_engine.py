"""The ONNX engine runs real ONNX Runtime and refuses models that do not fit the contract."""

import logging

import numpy as np
import pytest
from onnx_models import build_model, tiny_info

from livegan.errors import UserError
from livegan.model.engine import OnnxGenerator


def test_a_valid_model_generates_probabilities_of_the_declared_shape(tmp_path):
    gen = OnnxGenerator(build_model(tmp_path / "m.onnx"))
    z = np.random.default_rng(0).standard_normal((5, 8), dtype=np.float32)
    roll = gen.generate({"z": z}, np.zeros((5, 2), np.float32))
    assert roll.shape == (5, 3, 2, 16, 24) and roll.dtype == np.float32
    assert 0.0 <= roll.min() and roll.max() <= 1.0
    assert gen.info == tiny_info() and gen.provider == "CPUExecutionProvider"
    assert gen.warm_up() >= 0.0


def test_same_inputs_give_the_same_roll_and_mood_changes_it(tmp_path):
    gen = OnnxGenerator(build_model(tmp_path / "m.onnx"))
    z = {"z": np.ones((1, 8), np.float32)}
    calm, excited = np.array([[0.0, -1.0]], np.float32), np.array([[0.0, 1.0]], np.float32)
    assert np.array_equal(gen.generate(z, calm), gen.generate(z, calm))
    assert gen.generate(z, excited).mean() > gen.generate(z, calm).mean()


def test_extra_latent_inputs_are_read_from_the_model(tmp_path):
    gen = OnnxGenerator(build_model(tmp_path / "m.onnx", extra_latent=4))
    assert [(s.name, s.shape) for s in gen.latents] == [("z", (8,)), ("z_temporal", (4,))]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metadata": False}, "no 'livegan' metadata"),
        ({"metadata": "{broken"}, "metadata is not valid JSON"),
        ({"roll_shape": (3, 2, 16, 12)}, "output 'roll' has shape"),
        ({"output_name": "pianoroll"}, "output 'roll' is missing"),
    ],
)
def test_a_model_that_does_not_fit_is_refused_naming_file_and_mismatch(tmp_path, kwargs, message):
    path = build_model(tmp_path / "bad.onnx", **kwargs)
    with pytest.raises(UserError) as err:
        OnnxGenerator(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_garbage_files_get_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        OnnxGenerator(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(UserError) as err:
        OnnxGenerator(junk)
    assert "is not a loadable ONNX model" in str(err.value) and "\n" not in str(err.value)


def test_cuda_without_a_gpu_falls_back_to_cpu_with_a_warning(tmp_path, caplog):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA: the fallback path cannot be exercised")
    with caplog.at_level(logging.WARNING):
        gen = OnnxGenerator(build_model(tmp_path / "m.onnx"), device="cuda")
    assert gen.provider == "CPUExecutionProvider"
    assert "no CUDA provider" in caplog.text
