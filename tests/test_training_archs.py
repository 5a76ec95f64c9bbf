"""The LSTM and the VAE beside MuseGAN: configs, training, checkpoints, resume and export to the contract."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from livegan.export.onnx import export_onnx, rebuild, rebuild_parts
from livegan.export.wrappers import ExportedStep
from test_training_helpers import (
    GRID,
    TINY_LSTM,
    chord_phrases,
    tiny_config,
    tiny_dataset,
)

from livegan.cli import main
from livegan.errors import UserError
from livegan.model.contract import METADATA_KEY, ModelInfo
from livegan.training.config import Config, LstmConfig, VaeConfig, load_config
from livegan.training.loop.checkpoint import load_checkpoint, save_checkpoint
from livegan.training.loop.train import train
from livegan.training.nets.lstm import MoodLstm, teacher_inputs, time_major

ROLL = (4, 4, 16, 72)  # tracks, bars, steps per bar, pitches of the tiny dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_dataset(tmp_path_factory.mktemp("data") / "d.npz")


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """A 4-step run of each new architecture: arch -> its last.pt."""
    folder = tmp_path_factory.mktemp("runs")
    return {arch: train(data, tiny_config(arch), folder / arch, progress=False) for arch in ("lstm", "vae")}


def _session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _io(path) -> tuple[dict[str, list], dict[str, list]]:
    """Input and output names -> declared shapes (the batch axis is the string 'batch')."""
    graph = onnx.load(str(path)).graph

    def shape(value) -> list:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    return {i.name: shape(i) for i in graph.input}, {o.name: shape(o) for o in graph.output}


def _metadata(path) -> ModelInfo:
    return ModelInfo.from_json({p.key: p.value for p in onnx.load(str(path)).metadata_props}[METADATA_KEY])


# --- configuration -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch, kind, state", [("lstm", LstmConfig, 2 * 2 * 256), ("vae", VaeConfig, 64)])
def test_each_arch_reads_its_own_shipped_config(arch, kind, state):
    config = load_config(None, arch=arch)
    assert config.arch == arch and isinstance(config.model, kind)
    assert config.model.latent_size(4) == state
    assert config.train.lr_g == 0.001 and config.train.betas == (0.9, 0.999)
    assert Config.from_dict(config.to_dict()) == config
    assert config.to_dict()["arch"] == arch


def test_a_config_without_arch_is_musegan_as_before():
    assert load_config().arch == "musegan"
    assert Config.from_dict({"model": {"z_shared": 8}}).arch == "musegan"


def test_an_arch_alone_gets_that_archs_defaults():
    config = Config.from_dict({"arch": "lstm"})
    assert config.model == LstmConfig() and config.train.lr_g == 0.001


@pytest.mark.parametrize("body, words", [
    ('arch = "gru"\n', "arch must be one of musegan, lstm, vae, coconet, got 'gru'"),
    ('arch = "lstm"\n[model]\nz_shared = 8\n', "unknown field.*model.z_shared"),
    ('arch = "lstm"\n[model]\nhidden = 0\n', r"model.hidden must be an integer in \[1, 4096\], got 0"),
    ('arch = "lstm"\n[model]\ndropout = 1.0\n', r"model.dropout must be a number in \[0.0, 1.0\), got 1.0"),
    ('arch = "vae"\n[model]\nkl_weight = -1\n', r"model.kl_weight must be a number in \[0.0, 100.0\], got -1"),
    ('arch = "vae"\n[model]\ndec_trunk = [8, 8]\n', "model.dec_trunk must list 3 channel widths"),
    ('arch = "vae"\n[model]\nhidden = 8\n', "unknown field.*model.hidden"),
    ('arch = "vae"\n[train]\ngrad_clip = -1\n', "train.grad_clip must be a number >= 0"),
])
def test_a_bad_arch_config_names_the_field(tmp_path, body, words):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(UserError, match=words) as err:
        load_config(path)
    assert "\n" not in str(err.value) and "bad.toml" in str(err.value)


def test_a_config_of_another_arch_is_one_clear_error(data, tmp_path, capsys):
    lstm = tmp_path / "lstm.toml"
    lstm.write_text('arch = "lstm"\n')
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--arch", "vae", "--config", str(lstm), "--data", str(data), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "is for arch 'lstm', not 'vae'" in err
    assert not (tmp_path / "run").exists()


# --- the LSTM --------------------------------------------------------------------------------------------------------


def test_the_lstm_predicts_each_step_from_the_one_before():
    rolls = torch.from_numpy(chord_phrases(2)).float()
    previous, where, targets = teacher_inputs(rolls, GRID.steps_per_bar)
    assert previous.shape == targets.shape == (2, 64, 4, 72) and where.shape == (2, 64, 16)
    assert previous[:, 0].sum() == 0 and torch.equal(previous[:, 1:], time_major(rolls)[:, :-1])
    assert torch.equal(where[0, 17], torch.eye(16)[1]), "step 17 is the second step of bar 2"


def test_the_step_function_carries_the_whole_state_across_steps():
    """Step by step, feeding back state_out, gives what one pass over the phrase gives (teacher forcing)."""
    torch.manual_seed(0)
    lstm = MoodLstm(TINY_LSTM, GRID, 4).eval()
    step = ExportedStep(lstm)
    rolls = torch.from_numpy(chord_phrases(3)).float()
    mood = torch.tensor([[0.8, 0.6], [-0.5, -0.3], [0.0, 0.0]])
    previous, where, _ = teacher_inputs(rolls, GRID.steps_per_bar)
    with torch.no_grad():
        whole, _ = lstm(previous, where, mood)
        state = torch.zeros(3, TINY_LSTM.latent_size(4))
        for t in range(64):
            logits, state = step(previous[:, t], where[:, t], mood, state)
            assert torch.allclose(logits, whole[:, t], atol=1e-5), f"step {t}"
    assert state.shape == (3, 2 * 2 * 16)


# --- training, checkpoints, resume -----------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["lstm", "vae"])
def test_a_run_writes_checkpoints_and_sample_rolls(runs, arch):
    run = runs[arch].parent
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000002.pt", "step_0000004.pt"]
    assert json.loads((run / "config.json").read_text())["arch"] == arch
    state, meta = load_checkpoint(runs[arch])
    assert set(state) >= {"generator", "opt_g", "step"} and "critic" not in state
    assert meta["config"]["arch"] == arch and meta["info"]["runtime"] == ("step" if arch == "lstm" else "phrase")
    samples = np.load(run / "samples" / "step_0000004.npz")
    assert samples["probs"].shape == samples["notes"].shape == (8, *ROLL)
    assert 0.0 <= samples["probs"].min() and samples["probs"].max() <= 1.0
    assert list(samples["names"][::2]) == ["uplifting", "meditation", "nature-inspired", "bittersweet"]


def test_the_lstm_samples_notes_and_the_vae_thresholds_them(runs):
    lstm = np.load(runs["lstm"].parent / "samples" / "step_0000004.npz")
    assert lstm["notes"].any(), "an untrained LSTM still plays a note now and then (sigmoid(-4) = 1.8 %)"
    vae = np.load(runs["vae"].parent / "samples" / "step_0000004.npz")
    assert np.array_equal(vae["notes"], vae["probs"] > 0.5)


@pytest.mark.parametrize("arch", ["lstm", "vae"])
def test_a_resumed_run_ends_where_the_uninterrupted_run_ends(data, tmp_path, arch):
    train(data, tiny_config(arch, steps=4), tmp_path / "straight", progress=False)
    train(data, tiny_config(arch, steps=2), tmp_path / "halves", progress=False)
    train(data, tiny_config(arch, steps=4), tmp_path / "halves", resume=True, progress=False)
    a, _ = load_checkpoint(tmp_path / "straight" / "last.pt")
    b, _ = load_checkpoint(tmp_path / "halves" / "last.pt")
    for name, tensor in a["generator"].items():
        assert torch.allclose(tensor.float(), b["generator"][name].float(), atol=1e-6), name


def test_resuming_a_run_of_another_arch_exits_2_with_one_line(runs, data, capsys):
    out = runs["lstm"].parent
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--arch", "vae", "--data", str(data), "--out", str(out), "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "it is a lstm run and this config is vae" in err


def test_the_command_line_trains_the_arch_it_is_asked_for(data, tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text('arch = "vae"\n[model]\nlatent = 4\nenc_track = 2\nenc_merged = [4, 4]\ndec_trunk = [4, 4, 4]\n'
                      "dec_branch = 2\n[train]\nsteps = 1\nbatch_size = 2\nthreads = 1\n")
    main(["train", "--arch", "vae", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "run"),
          "--no-progress"])
    assert "checkpoint:" in capsys.readouterr().out
    _, meta = load_checkpoint(tmp_path / "run" / "last.pt")
    assert meta["config"]["arch"] == "vae" and meta["config"]["model"]["latent"] == 4


def _ddp_worker(rank: int, world: int, port: int, data, out) -> None:
    """What torchrun starts on each process: the environment, then the same training code, for each arch."""
    import os

    from livegan.training.loop import distributed
    from livegan.training.loop.train import _create, _loop

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    ctx = distributed.setup("cpu")
    try:
        for arch in ("lstm", "vae"):
            run = _create(data, tiny_config(arch, steps=2, sample_every=2, checkpoint_every=2), out / arch, ctx)
            assert isinstance(run.generator, torch.nn.parallel.DistributedDataParallel)
            _loop(run, progress=False, minutes=0)
            weights = {k: v.detach().clone() for k, v in run.trainer.model.named_parameters()}
            torch.save(weights, out / f"{arch}.rank{rank}.weights")
    finally:
        distributed.teardown()


def test_two_gloo_processes_train_one_lstm_and_one_vae(data, tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, data, tmp_path), nprocs=2, join=True)
    for arch in ("lstm", "vae"):
        zero, one = (torch.load(tmp_path / f"{arch}.rank{r}.weights", weights_only=True) for r in (0, 1))
        for name, tensor in zero.items():
            assert torch.allclose(tensor, one[name]), f"{arch} {name} differs between the processes"
        state, meta = load_checkpoint(tmp_path / arch / "last.pt")
        assert int(state["step"]) == 2 and meta["info"]["extra"]["training"]["processes"] == 2


# --- export ----------------------------------------------------------------------------------------------------------


def test_the_lstm_exports_as_a_step_function(runs, tmp_path):
    out = tmp_path / "lstm.onnx"
    info = export_onnx(runs["lstm"], out)
    state = 2 * TINY_LSTM.layers * TINY_LSTM.hidden
    inputs, outputs = _io(out)
    assert inputs == {"frame": ["batch", 4, 72], "position": ["batch", 16], "mood": ["batch", 2], "state": ["batch", state]}
    assert outputs == {"logits": ["batch", 4, 72], "state_out": ["batch", state]}
    assert _metadata(out) == info
    assert (info.runtime, info.architecture, info.latent_size, info.encoder) == ("step", "lstm-step-mood", state, "")
    assert info.temperature == 1.0 and info.threshold == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lstm.onnx"], "no sidecar, no leftovers"


def test_the_exported_step_function_matches_torch_over_a_teacher_forced_phrase(runs, tmp_path):
    out = tmp_path / "lstm.onnx"
    info = export_onnx(runs["lstm"], out)
    module, _ = rebuild(runs["lstm"])
    rolls = torch.from_numpy(chord_phrases(2, seed=5)).float()
    mood = np.float32([[0.8, 0.6], [-0.5, -0.3]])
    previous, where, _ = teacher_inputs(rolls, GRID.steps_per_bar)
    with torch.no_grad():
        expected, _ = module.model(previous, where, torch.from_numpy(mood))
    session, state = _session(out), np.zeros((2, info.latent_size), np.float32)
    for t in range(previous.shape[1]):
        logits, state = session.run(["logits", "state_out"], {"frame": previous[:, t].numpy(), "position": where[:, t].numpy(),
                                                              "mood": mood, "state": state})
        assert np.abs(logits - expected[:, t].numpy()).max() <= 1e-4, f"step {t}"


def test_the_vae_exports_its_decoder_and_its_encoder_beside_it(runs, tmp_path):
    out = tmp_path / "models" / "vae.onnx"
    info = export_onnx(runs["vae"], out)
    encoder = tmp_path / "models" / "vae.encoder.onnx"
    assert sorted(p.name for p in out.parent.iterdir()) == ["vae.encoder.onnx", "vae.onnx"]
    assert (info.runtime, info.architecture, info.encoder, info.latent_size) == ("phrase", "vae-conv-mood", encoder.name, 8)
    assert _metadata(out) == _metadata(encoder) == info
    assert _io(out) == ({"z": ["batch", 8], "mood": ["batch", 2]}, {"roll": ["batch", *ROLL]})
    assert _io(encoder) == ({"roll": ["batch", *ROLL], "mood": ["batch", 2]}, {"z": ["batch", 8]})


def test_a_phrase_encodes_and_decodes_back_to_a_phrase(runs, tmp_path):
    out = tmp_path / "vae.onnx"
    export_onnx(runs["vae"], out)
    phrases = chord_phrases(3).astype(np.float32)
    mood = np.float32([[0.8, 0.6], [0.3, -0.7], [-0.5, -0.3]])
    (z,) = _session(tmp_path / "vae.encoder.onnx").run(["z"], {"roll": phrases, "mood": mood})
    (roll,) = _session(out).run(["roll"], {"z": z, "mood": mood})
    assert z.shape == (3, 8) and roll.shape == (3, *ROLL)
    assert 0.0 <= roll.min() and roll.max() <= 1.0
    parts = rebuild_parts(runs["vae"])
    with torch.no_grad():
        expected = parts.encoder(torch.from_numpy(phrases), torch.from_numpy(mood)).numpy()
    assert np.abs(z - expected).max() <= 1e-4


def test_a_failed_vae_export_leaves_neither_file(runs, tmp_path, monkeypatch):
    from livegan.export import onnx as export

    monkeypatch.setattr(export, "TOLERANCE", -1.0)
    with pytest.raises(UserError, match="differs from torch"):
        export_onnx(runs["vae"], tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arch", ["lstm", "vae"])
def test_the_exported_model_loads_in_the_daemon_engine(runs, tmp_path, arch):
    engine = pytest.importorskip("livegan.model.engine")
    if not hasattr(engine, "load_model"):
        pytest.skip("this engine has no load_model yet")
    out = tmp_path / f"{arch}.onnx"
    export_onnx(runs[arch], out)
    model = engine.load_model(out)
    latents = {spec.name: np.zeros((2, *spec.shape), np.float32) for spec in model.latents}
    roll = model.generate(latents, np.zeros((2, 2), np.float32))
    assert roll.shape == (2, *ROLL) and model.info.runtime == ("step" if arch == "lstm" else "phrase")


@pytest.mark.parametrize("arch, words", [("lstm", "runtime step"), ("vae", "runtime phrase")])
def test_export_on_the_command_line_names_the_runtime(runs, tmp_path, capsys, arch, words):
    main(["export", str(runs[arch]), "-o", str(tmp_path / "cli.onnx")])
    said = capsys.readouterr().out
    assert words in said and "checked against torch" in said
    assert ("cli.encoder.onnx" in said) == (arch == "vae")


def _rewritten(checkpoint, path, config_changes: dict | None = None, drop: tuple[str, ...] = ()) -> object:
    """A copy of ``checkpoint`` with its saved config changed (a None value removes a key) and ``drop`` left out."""
    state, meta = load_checkpoint(checkpoint)
    config = {**meta["config"], **(config_changes or {})}
    meta = {k: v for k, v in meta.items() if k not in ("format", "version")}
    state = {k: v for k, v in state.items() if k != "meta" and k not in drop}
    return save_checkpoint(path, state, {**meta, "config": {k: v for k, v in config.items() if v is not None}})


def test_a_checkpoint_whose_config_names_another_arch_exits_2_with_one_line(runs, tmp_path, capsys):
    bad = _rewritten(runs["lstm"], tmp_path / "bad.pt", {"arch": "vae", "model": {"latent": 8}})
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(bad), "-o", str(tmp_path / "out.onnx")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "bad.pt" in err and "does not match" in err
    assert not (tmp_path / "out.onnx").exists()


def test_a_musegan_checkpoint_from_before_the_arch_key_still_exports(data, tmp_path):
    last = train(data, tiny_config(steps=1), tmp_path / "run", progress=False)
    old = _rewritten(last, tmp_path / "old.pt", {"arch": None})
    assert "arch" not in load_checkpoint(old)[1]["config"]
    info = export_onnx(old, tmp_path / "old.onnx")
    assert (info.runtime, info.architecture, info.encoder) == ("phrase", "musegan-hybrid-mood", "")


def test_a_musegan_checkpoint_without_its_critic_is_one_clear_error(data, tmp_path):
    last = train(data, tiny_config(steps=1), tmp_path / "run", progress=False)
    bad = _rewritten(last, tmp_path / "nocritic.pt", drop=("critic",))
    with pytest.raises(UserError, match="musegan checkpoint without its critic") as err:
        export_onnx(bad, tmp_path / "out.onnx")
    assert "\n" not in str(err.value)


def test_resuming_a_musegan_run_without_its_critic_is_one_clear_error(data, tmp_path):
    last = train(data, tiny_config(steps=1), tmp_path / "run", progress=False)
    _rewritten(last, last, drop=("critic", "opt_d"))
    with pytest.raises(UserError, match="lacks critic, opt_d, which a musegan run needs") as err:
        train(data, tiny_config(steps=2), tmp_path / "run", resume=True, progress=False)
    assert "\n" not in str(err.value)


# --- the note threshold --------------------------------------------------------------------------------------------


def test_matching_the_datas_density_sets_the_threshold_where_prior_samples_sound_as_often(runs, data, tmp_path):
    """A VAE decoder hedges below 0.5; the exported threshold is set so it plays as densely as the data."""
    from livegan.model.engine import load_model
    from livegan.music.dataset import load_phrases

    info = export_onnx(runs["vae"], tmp_path / "vae.onnx", match_density=data)
    share = float(load_phrases(data).phrases.mean())
    assert 0.05 <= info.threshold <= 0.95 and "cells sound in d.npz" in info.extra["threshold_rule"]
    engine = load_model(tmp_path / "vae.onnx")
    assert engine.info.threshold == pytest.approx(info.threshold)
    rng = np.random.default_rng(1)
    probs = engine.generate({"z": rng.standard_normal((256, engine.info.latent_size), dtype=np.float32)},
                            rng.uniform(-1, 1, (256, 2)).astype(np.float32))
    sounding = float((probs > info.threshold).mean())
    assert info.threshold in (0.05, 0.95) or 0.5 * share < sounding < 2.0 * share


def test_an_explicit_threshold_is_written_to_the_metadata(runs, tmp_path, capsys):
    main(["export", str(runs["vae"]), "-o", str(tmp_path / "t.onnx"), "--threshold", "0.3"])
    assert "threshold 0.300" in capsys.readouterr().out
    assert _metadata(tmp_path / "t.onnx").threshold == pytest.approx(0.3)


@pytest.mark.parametrize("args, words", [
    (["--threshold", "0.3", "--match-density", "{data}"], "either --threshold or --match-density, not both"),
    (["--match-density", "{data}"], "--match-density applies to phrase models; this checkpoint is a step model"),
])
def test_threshold_options_that_do_not_apply_exit_2_with_one_line(runs, data, tmp_path, capsys, args, words):
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(runs["lstm"]), "-o", str(tmp_path / "x.onnx"), *[a.format(data=data) for a in args]])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and words in err
