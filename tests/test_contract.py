"""The model contract: what a generator must declare, and how bad metadata is refused."""

import json

import pytest
from onnx_models import tiny_info

from livegan.model.contract import DRUM_CHANNEL, ContractError, ModelInfo, Track


def test_metadata_round_trips_through_json():
    info = tiny_info()
    assert ModelInfo.from_json(info.to_json()) == info


def test_drums_play_on_channel_10_and_other_tracks_skip_it():
    tracks = tuple(Track(f"T{i}") for i in range(10)) + (Track("Drums", is_drum=True),)
    info = tiny_info(tracks=tracks)
    assert info.channels[-1] == DRUM_CHANNEL == 9
    assert info.channels[:10] == (0, 1, 2, 3, 4, 5, 6, 7, 8, 10)


def test_grid_properties_follow_the_metadata():
    info = tiny_info(steps_per_beat=6, beats_per_bar=3, bars=4)
    assert info.steps_per_bar == 18
    assert info.roll_shape == (3, 4, 18, 24)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lowest_pitch": 120}, "n_pitches must be an integer in [1, 8]"),
        ({"steps_per_beat": 0}, "steps_per_beat must be an integer in [1, 96], got 0"),
        ({"threshold": 1.5}, "threshold must be in (0, 1), got 1.5"),
        ({"tracks": (Track("A", is_drum=True), Track("B", is_drum=True))}, "at most one drum track"),
        ({"tracks": (Track("A"), Track("A"))}, "track names must be unique"),
        ({"tracks": (Track("A", program=128),)}, "tracks.A.program must be an integer in [0, 127], got 128"),
        ({"moods": {"calm": (0.0, 2.0)}}, "moods.calm must be [valence, arousal] in [-1, 1]"),
    ],
)
def test_invalid_fields_are_named_with_range_and_value(change, message):
    with pytest.raises(ContractError) as err:
        tiny_info(**change)
    assert message in str(err.value)


def test_missing_fields_and_versions_are_reported():
    data = tiny_info().to_dict()
    del data["latent_size"]
    with pytest.raises(ContractError, match="metadata lacks latent_size"):
        ModelInfo.from_dict(data)
    data = tiny_info().to_dict() | {"contract": 99}
    with pytest.raises(ContractError, match="contract version 99 is not supported"):
        ModelInfo.from_dict(data)
    with pytest.raises(ContractError, match="not valid JSON"):
        ModelInfo.from_json("{oops")


def test_declared_output_shape_must_match_the_grid():
    info = tiny_info()
    info.check_roll_shape(("N", 3, 2, 16, 24))
    with pytest.raises(ContractError, match=r"output 'roll' has shape \['N', 3, 2, 16, 12\]"):
        info.check_roll_shape(("N", 3, 2, 16, 12))


def test_unknown_metadata_keys_are_ignored_for_forward_compatibility():
    data = json.loads(tiny_info().to_json()) | {"future_field": 1}
    assert ModelInfo.from_dict(data).latent_size == 8
