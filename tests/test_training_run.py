"""Training: networks, checkpoints, samples, resume, and the command line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_training_helpers import GRID, TINY_MODEL, tiny_config, tiny_dataset

from livegan.cli import main
from livegan.errors import UserError
from livegan.training.loop.checkpoint import load_checkpoint
from livegan.training.loop.train import train
from livegan.training.nets.musegan import Critic, Generator

TINY_TOML = (  # TINY_MODEL as a config file, trained 2 steps
    "[model]\nz_shared = 8\nz_temporal = 8\nz_private = 4\nz_private_temporal = 4\ntemporal_hidden = 16\n"
    "g_trunk = [16, 16, 8]\ng_branch = 4\nd_track = 4\nd_chroma = 4\nd_merged = [8, 8, 8, 16]\n"
    "[train]\nsteps = 2\nbatch_size = 4\nthreads = 1\n")


def test_the_generator_maps_latent_and_mood_to_a_roll_in_range():
    gen = Generator(TINY_MODEL, GRID, 4)
    z = torch.randn(3, gen.latent_size)
    roll = gen(z, torch.zeros(3, 2))
    assert roll.shape == (3, 4, 4, 16, 72)
    assert roll.min() >= -1 and roll.max() <= 1
    critic = Critic(TINY_MODEL, GRID, 4)
    assert critic(roll, torch.zeros(3, 2)).shape == (3,)


def test_the_mood_reaches_both_networks():
    torch.manual_seed(0)
    gen, critic = Generator(TINY_MODEL, GRID, 4).eval(), Critic(TINY_MODEL, GRID, 4)
    z = torch.randn(2, gen.latent_size)
    happy, sad = torch.tensor([[0.8, 0.6]] * 2), torch.tensor([[-0.8, -0.6]] * 2)
    assert not torch.allclose(gen(z, happy), gen(z, sad))
    roll = gen(z, happy).detach()
    assert not torch.allclose(critic(roll, happy), critic(roll, sad))


def test_the_critic_sees_a_batch_that_never_varies():
    from livegan.training.nets.musegan import minibatch_spread

    varied = torch.randn(6, 5)
    same = varied[:1].repeat(6, 1)
    assert minibatch_spread(same, groups=1).max() < 1e-3 < minibatch_spread(varied, groups=1).min()
    both = minibatch_spread(torch.cat([varied[:3], same[:3]]), groups=2).squeeze(1)
    assert both[0] == both[2] > both[3] == both[5], "each set is measured apart"


def test_a_run_writes_config_checkpoints_and_sample_rolls(tmp_path):
    data = tiny_dataset(tmp_path / "d.npz")
    last = train(data, tiny_config(), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert last == run / "last.pt" and (run / "config.json").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000002.pt", "step_0000004.pt"]
    assert (run / "samples" / "step_0000004.npz").is_file()
    state, meta = load_checkpoint(last)
    assert int(state["step"]) == 4 and meta["info"]["extra"]["training"]["steps"] == 4
    assert set(meta["info"]["moods"]) >= {"uplifting", "meditation", "nature-inspired", "bittersweet"}


def test_a_resumed_run_ends_where_the_uninterrupted_run_ends(tmp_path):
    data = tiny_dataset(tmp_path / "d.npz")
    train(data, tiny_config(steps=4), tmp_path / "straight", progress=False)
    train(data, tiny_config(steps=2), tmp_path / "halves", progress=False)
    train(data, tiny_config(steps=4), tmp_path / "halves", resume=True, progress=False)
    a, _ = load_checkpoint(tmp_path / "straight" / "last.pt")
    b, _ = load_checkpoint(tmp_path / "halves" / "last.pt")
    for name, tensor in a["generator"].items():
        assert torch.allclose(tensor.float(), b["generator"][name].float(), atol=1e-6), name


def test_resuming_without_a_checkpoint_is_one_clear_error(tmp_path):
    data = tiny_dataset(tmp_path / "d.npz")
    with pytest.raises(UserError, match="cannot resume"):
        train(data, tiny_config(), tmp_path / "fresh", resume=True, progress=False)


@pytest.mark.parametrize("content", ["missing", "truncated", "foreign", "code"])
def test_a_bad_checkpoint_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content == "truncated":
        data = tiny_dataset(tmp_path / "d.npz")
        train(data, tiny_config(steps=1), tmp_path / "run", progress=False)
        path.write_bytes((tmp_path / "run" / "last.pt").read_bytes()[:2000])
    elif content == "foreign":
        torch.save({"model": torch.zeros(2)}, path)
    elif content == "code":
        torch.save({"generator": torch.nn.Linear(2, 2)}, path)  # a pickled module: never unpickled
    with pytest.raises(UserError, match="bad.pt") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_train_on_the_command_line_refuses_to_overwrite_a_run(tmp_path, capsys):
    data = tiny_dataset(tmp_path / "d.npz")
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    args = ["train", "--data", str(data), "--config", str(config), "--out", str(tmp_path / "run"), "--no-progress"]
    main(args)
    assert "checkpoint:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and "--resume" in capsys.readouterr().err


def test_the_mode_loss_rewards_major_at_positive_valence_and_minor_at_negative():
    from livegan.training.nets.losses import mode_loss

    def chord(pitches: list[int]) -> torch.Tensor:
        roll = -torch.ones(1, 4, 4, 16, 72)
        for voice, pitch in enumerate(pitches):
            roll[0, voice, :, :, pitch - 24] = 1.0
        return roll

    major, minor = chord([72, 67, 64, 48]), chord([69, 64, 60, 45])
    drums = torch.zeros(4, dtype=torch.bool)
    happy, sad = torch.tensor([[0.8, 0.0]]), torch.tensor([[-0.8, 0.0]])
    assert mode_loss(major, happy, drums) < mode_loss(minor, happy, drums)
    assert mode_loss(minor, sad, drums) < mode_loss(major, sad, drums)


def test_the_diversity_loss_is_lower_when_different_latents_give_different_rolls():
    from livegan.training.nets.losses import diversity_loss

    z_a, z_b = torch.zeros(2, 8), torch.ones(2, 8)
    roll = -torch.ones(2, 4, 4, 16, 72)
    other = roll.clone()
    other[:, 0, :, :, 40] = 1.0  # one more pitch held in one voice
    collapsed = diversity_loss(roll, roll.clone(), z_a, z_b)
    apart = diversity_loss(roll, other, z_a, z_b)
    assert apart < collapsed and torch.isfinite(collapsed)
    # scale-free: twice the latent distance for the same rolls costs exactly log 2 more
    assert diversity_loss(roll, other, z_a, 2 * z_b) - apart == pytest.approx(float(np.log(2)), abs=5e-3)


def test_a_run_with_the_mode_loss_trains(tmp_path):
    """The mode and diversity losses reach the generator's update: the same seed without them ends elsewhere."""
    data = tiny_dataset(tmp_path / "d.npz")
    weights = {}
    for name, w in (("plain", 0.0), ("mode", 1.0)):
        last = train(data, tiny_config(steps=2, mode_weight=w, diversity_weight=w), tmp_path / name, progress=False)
        state, meta = load_checkpoint(last)
        assert int(state["step"]) == 2 and meta["config"]["train"]["mode_weight"] == w
        weights[name] = state["generator"]
    assert all(torch.isfinite(v).all() for v in weights["mode"].values() if v.is_floating_point())
    moved = [k for k, v in weights["mode"].items() if v.is_floating_point() and not torch.equal(v, weights["plain"][k])]
    assert moved, "the extra losses changed no generator weight"


def test_the_mood_head_learns_to_hear_major_and_minor_in_any_key():
    """AC-GAN's auxiliary head, trained on real phrases only, reads valence (the mode) whatever the root."""
    from livegan.training.nets.losses import critic_loss
    from livegan.training.nets.musegan import MoodHead

    torch.manual_seed(0)
    critic, head = Critic(TINY_MODEL, GRID, 4), MoodHead(TINY_MODEL, [False] * 4)
    opt = torch.optim.Adam([*critic.parameters(), *head.parameters()], lr=1e-3)

    def phrases(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One triad held by four voices on a random root; valence +0.8 when major, -0.8 when minor."""
        rng = np.random.default_rng(seed)
        rolls = -torch.ones(32, 4, 4, 16, 72)
        major = rng.random(32) < 0.5
        for n in range(32):
            root = int(rng.integers(0, 12)) + 36
            for voice, pitch in enumerate((root + 24, root + 19, root + 12 + (4 if major[n] else 3), root)):
                rolls[n, voice, :, :, pitch - 24] = 1.0
        mood = torch.as_tensor(np.stack([np.where(major, 0.8, -0.8), np.zeros(32)], 1), dtype=torch.float32)
        return rolls, mood

    for step in range(200):
        real, mood = phrases(step)  # new roots every step: only hearing the mode generalises
        fake = -torch.ones_like(real)
        loss, parts = critic_loss(critic, real, fake, mood, gp_weight=10.0, head=head, head_weight=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert "aux" in parts
    unseen, unseen_mood = phrases(1000)
    with torch.no_grad():
        heard = head(critic(unseen, unseen_mood, features=True)[1], unseen)
    assert (torch.sign(heard[:, 0]) == torch.sign(unseen_mood[:, 0])).float().mean() >= 0.9, "new roots too"


def test_the_generator_loss_with_a_head_trains_only_the_generator():
    from livegan.training.nets.losses import generator_loss
    from livegan.training.nets.musegan import MoodHead

    torch.manual_seed(0)
    gen, critic, head = Generator(TINY_MODEL, GRID, 4), Critic(TINY_MODEL, GRID, 4), MoodHead(TINY_MODEL, [False] * 4)
    mood = torch.tensor([[0.8, 0.6], [-0.8, -0.6]])
    adversarial, heard = generator_loss(critic, gen(torch.randn(2, gen.latent_size), mood), mood, head)
    (adversarial + heard).backward()
    assert all(p.grad is None for p in (*critic.parameters(), *head.parameters()))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gen.parameters())
    assert all(p.requires_grad for p in (*critic.parameters(), *head.parameters())), "unfrozen afterwards"
    assert generator_loss(critic, gen(torch.randn(2, gen.latent_size), mood), mood)[1] is None


def test_a_run_resumed_with_the_mood_head_starts_the_head_fresh(tmp_path):
    data = tiny_dataset(tmp_path / "d.npz")
    run = tmp_path / "run"
    train(data, tiny_config(steps=2), run, progress=False)
    assert "mood_head" not in load_checkpoint(run / "last.pt")[0]
    last = train(data, tiny_config(steps=4, aux_weight=2.0), run, resume=True, progress=False)
    state, meta = load_checkpoint(last)
    assert int(state["step"]) == 4 and meta["config"]["train"]["aux_weight"] == 2.0
    assert {"mood_head", "opt_head"} <= set(state)
    again = train(data, tiny_config(steps=6, aux_weight=2.0), run, resume=True, progress=False)
    assert int(load_checkpoint(again)[0]["step"]) == 6


def test_train_takes_the_aux_weight_on_the_command_line(tmp_path, capsys):
    data = tiny_dataset(tmp_path / "d.npz")
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    main(["train", "--data", str(data), "--config", str(config), "--out", str(tmp_path / "run"), "--no-progress",
          "--aux-weight", "3"])
    state, meta = load_checkpoint(tmp_path / "run" / "last.pt")
    assert meta["config"]["train"]["aux_weight"] == 3.0 and "mood_head" in state
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(data), "--config", str(config), "--out", str(tmp_path / "other"), "--aux-weight", "-1"])
    assert exit_.value.code == 2 and "aux-weight" in capsys.readouterr().err
