"""Export: a checkpoint becomes an ONNX model with its contract, equal to torch, that the daemon loads."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from livegan.export.onnx import export_onnx, rebuild
from test_training_helpers import tiny_config, tiny_dataset

from livegan.cli import main
from livegan.errors import UserError
from livegan.model.contract import METADATA_KEY, ModelInfo
from livegan.model.engine import OnnxGenerator
from livegan.training.loop.train import train


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    data = tiny_dataset(folder / "d.npz")
    return train(data, tiny_config(steps=2), folder / "run", progress=False)


def test_the_onnx_model_carries_the_contract_and_matches_torch(checkpoint, tmp_path):
    out = tmp_path / "models" / "tiny.onnx"
    info = export_onnx(checkpoint, out)
    model = onnx.load(str(out))
    meta = {p.key: p.value for p in model.metadata_props}
    assert ModelInfo.from_json(meta[METADATA_KEY]) == info
    assert info.roll_shape == (4, 4, 16, 72) and info.extra["training"]["steps"] == 2
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    module, _ = rebuild(checkpoint)
    for batch in (1, 5):  # the batch axis is dynamic
        z = np.random.default_rng(batch).standard_normal((batch, info.latent_size)).astype(np.float32)
        mood = np.tile(np.float32([[0.8, 0.6]]), (batch, 1))
        (roll,) = session.run(["roll"], {"z": z, "mood": mood})
        with torch.no_grad():
            expected = module(torch.from_numpy(z), torch.from_numpy(mood)).numpy()
        assert roll.shape == (batch, 4, 4, 16, 72) and roll.dtype == np.float32
        assert 0.0 <= roll.min() and roll.max() <= 1.0
        assert np.abs(roll - expected).max() <= 1e-4


def test_the_exported_model_loads_in_the_daemon_engine(checkpoint, tmp_path):
    out = tmp_path / "tiny.onnx"
    export_onnx(checkpoint, out)
    engine = OnnxGenerator(out)
    assert [spec.name for spec in engine.latents] == ["z"]
    roll = engine.generate({"z": np.zeros((2, engine.info.latent_size), np.float32)}, np.zeros((2, 2), np.float32))
    assert roll.shape == (2, *engine.info.roll_shape)
    assert set(engine.info.moods) >= {"uplifting", "meditation", "nature-inspired", "bittersweet"}


def test_a_parity_failure_stops_the_export(checkpoint, tmp_path, monkeypatch):
    from livegan.export import onnx as export

    monkeypatch.setattr(export, "TOLERANCE", -1.0)
    with pytest.raises(UserError, match="differs from torch"):
        export_onnx(checkpoint, tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == [], "an unchecked model is not left behind"


@pytest.mark.parametrize("kind", ["missing", "truncated", "foreign"])
def test_a_bad_checkpoint_exits_2_with_one_line(checkpoint, tmp_path, capsys, kind):
    bad = tmp_path / "bad.pt"
    if kind == "truncated":
        bad.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    elif kind == "foreign":
        torch.save({"state_dict": {"w": torch.zeros(1)}}, bad)
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(bad), "-o", str(tmp_path / "out.onnx")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and "bad.pt" in err
    assert not (tmp_path / "out.onnx").exists()


def test_export_on_the_command_line(checkpoint, tmp_path, capsys):
    main(["export", str(checkpoint), "-o", str(tmp_path / "cli.onnx")])
    assert "checked against torch" in capsys.readouterr().out
    assert OnnxGenerator(tmp_path / "cli.onnx").info.bars == 4
