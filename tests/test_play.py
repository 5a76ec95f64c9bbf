"""Play with LiveGAN: held chords, an echoed melody and an answered call, as the composer is asked for them."""

import mido
import pytest

from livegan.live.play import FOREVER, PlayAlong, deal_to_voices, top_line
from livegan.model.contract import ModelInfo, Track
from livegan.mood.player import PlayerState
from livegan.timing.sequencer import Playhead

INFO = ModelInfo(tracks=tuple(Track(n, monophonic=True) for n in "SATB"), lowest_pitch=36, n_pitches=48,
                 steps_per_beat=4, beats_per_bar=4, bars=4, latent_size=1, runtime="infill")
STEP = 0.125  # seconds: 120 BPM
BAR = 16 * STEP


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def head_at(t: float) -> Playhead:
    """The playhead at time t on a steady 120 BPM stream that began at 0."""
    index = int(t // BAR)
    return Playhead(index, index * BAR, STEP)


def setup(mode: str, **kwargs):
    clock, player = Clock(), PlayerState()
    play = PlayAlong(mode, player, INFO, lambda: head_at(clock.t), clock, make_seconds=0.3, **kwargs)
    return clock, player, play


def key(player, t, pitch, down=True):
    msg = mido.Message("note_on", note=pitch, velocity=80) if down else mido.Message("note_off", note=pitch)
    player.record(msg, t)


def test_a_held_chord_is_the_harmony_until_every_key_is_up():
    clock, player, play = setup("chords")
    assert play.steer() == (None, {})
    for p in (48, 64, 67):
        key(player, 1.0, p)
    clock.t = 1.1
    version, changes = play.steer()
    assert changes == {"chord": (0, 4, 7), "bass": 0, "avoid": (48, 64, 67)}
    clock.t = 1.6
    assert play.steer()[0] == version, "the same chord held: the same version, nothing remade"
    for p in (48, 64, 67):
        key(player, 2.0, p, down=False)
    clock.t = 2.5
    assert play.steer() == (None, {})


def test_a_melody_is_echoed_from_the_next_bar_line_as_the_soprano_with_rests_while_it_is_played():
    clock, player, play = setup("melody")
    melody = [(1 * BAR + 0.0, 1 * BAR + 0.5, 72), (1 * BAR + 0.5, 1 * BAR + 1.0, 74), (1 * BAR + 1.0, 2 * BAR + 0.0, 76)]
    for a, b, p in melody:
        clock.t = a
        key(player, a, p)
        assert play.steer()[1]["rests"] == ((2, FOREVER),), "rest from the next bar line while the player plays"
        key(player, b, p, down=False)
    clock.t = 3 * BAR + 0.1  # a bar of silence after the phrase, early in bar 3
    _, changes = play.steer()
    answer = play.answer
    assert (answer.first, answer.end) == (4, 5), "bar 3 is too near to be made: the echo is bar 4"
    assert changes["given"] == ((0, 64, 68, 72), (0, 68, 72, 74), (0, 72, 80, 76))
    assert changes["rests"] == ((2, 4),), "silent until the echo, then the voices go on"


def test_a_call_is_answered_by_as_many_bars_from_the_next_bar_line_then_the_voices_listen_again():
    clock, player, play = setup("respond")
    assert play.steer()[1]["rests"] == ((0, FOREVER),), "listening"
    for i, p in enumerate((60, 62, 64, 65, 67, 65, 64, 62)):  # two bars of quarter notes: bars 2 and 3
        a = 2 * BAR + i * 0.5
        key(player, a, p)
        key(player, a + 0.45, p, down=False)
    clock.t = 4 * BAR + 1.9  # not yet a bar of silence
    assert play.steer()[1]["rests"] == ((0, FOREVER),) and play.answer is None
    clock.t = 5 * BAR - 0.02  # a bar of silence; bar 5's line is 20 ms away: too near to make it
    _, changes = play.steer()
    assert (play.answer.first, play.answer.end) == (6, 8) and play.answer.call_first == 2
    assert changes["rests"] == ((0, 6), (8, FOREVER))
    assert changes["given"][0] == (0, 32, 36, 60), "the call is given where it was played: the bars the answer continues"


def test_played_chords_are_dealt_to_voices_and_a_melody_is_its_top_line():
    notes = [(0, 4, 48), (0, 4, 64), (0, 4, 67), (0, 4, 72), (4, 8, 74)]
    assert [v for v, *_ in deal_to_voices(notes, 4)] == [3, 2, 1, 0, 0]
    assert top_line([(0, 8, 60), (0, 4, 67), (4, 8, 65)]) == [(0, 4, 67), (4, 8, 65)]


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        PlayAlong("drums", PlayerState(), INFO, lambda: None, lambda: 0.0)
