"""The training config: defaults, the shipped TOML file, and clear errors."""

from __future__ import annotations

import pytest

from livegan.errors import UserError
from livegan.training.config import DEFAULT_CONFIG, Config, load_config


def test_the_shipped_config_is_the_tutorial_sized_grid():
    config = load_config(DEFAULT_CONFIG)
    assert (config.data.bars, config.data.steps_per_bar, config.data.lowest_pitch, config.data.n_pitches) == (4, 16, 24, 72)
    assert config.train.gp_weight == 10.0 and config.train.betas == (0.5, 0.9)
    assert config.model.latent_size(4) == 32 + 32 + 4 * (16 + 16)


def test_a_config_round_trips_through_its_dict():
    config = load_config(DEFAULT_CONFIG)
    assert Config.from_dict(config.to_dict()) == config


def test_command_line_overrides_replace_only_what_is_given():
    config = Config().replace_train(steps=7, batch_size=None)
    assert config.train.steps == 7 and config.train.batch_size == Config().train.batch_size


@pytest.mark.parametrize("body, words", [
    ("[train]\nstepz = 3\n", "unknown field.*train.stepz"),
    ("[train]\nsteps = 0\n", r"train.steps must be an integer in \[1, "),
    ("[data]\nn_pitches = 70\n", "multiple of 12"),
    ("[model]\ng_trunk = [8, 8]\n", "3 channel widths"),
    ("[optimizer]\nlr = 1\n", "unknown table"),
    ("[train\n", "not valid TOML"),
])
def test_a_bad_config_names_the_file_and_the_field(tmp_path, body, words):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(UserError, match=words) as err:
        load_config(path)
    assert "\n" not in str(err.value)


def test_a_missing_config_file_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
