"""A note the model holds over a bar line is one note: struck once, released once, whatever the mood's legato.

Bars are made one at a time, so the model's hold at a bar's first step arrives as a note of its own
(``Bar.tied``). The sequencer plays it as the continuation of the note still sounding, in the daemon
and in a render alike, since both play through it.
"""

import numpy as np
import pytest
from onnx_models import tiny_info

from livegan.generation.bar import Bar
from livegan.generation.infill import VoiceContext, held_notes
from livegan.mood.presets import Mood
from livegan.music.perform import perform_notes, tied_notes
from livegan.music.roll import Note
from livegan.music.voices import REST, held_over
from livegan.ports.memory import MemoryOutput
from livegan.ports.tracker import NoteTracker
from livegan.timing.clock import FakeClock
from livegan.timing.sequencer import Sequencer
from livegan.timing.transport import InternalTransport

INFO = tiny_info()  # tracks Drums (ch 9), Piano (ch 0), Bass (ch 1); 16 steps a bar
STEP = 0.125  # seconds at 120 BPM
FULL, DETACHED = Mood("full", 0, 0, legato=1.0), Mood("detached", 0, 0, legato=0.7)


class Bars:
    """A bar source of bars made in advance; ``late`` bars are not made yet when the bar before ends."""

    def __init__(self, scores: list[tuple[list[Note], set[tuple[int, int]]]], mood: Mood, late: frozenset[int] = frozenset()):
        self.bars = [Bar(i, perform_notes(notes, INFO, mood, i), mood, 0, 0.0, tuple(notes), tied_notes(notes, held, INFO))
                     for i, (notes, held) in enumerate(scores)]
        self.late = late

    def take(self, index: int) -> Bar | None:
        return self.bars[index] if index < len(self.bars) else None

    def upcoming(self, index: int) -> Bar | None:
        return self.bars[index] if index < len(self.bars) and index not in self.late else None

    def relocate(self, index: int) -> None:
        pass


def play(source: Bars) -> list[tuple[float, str, int, int]]:
    """(seconds, type, channel, note) of every note message the sequencer sends for the source's bars."""
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    transport = InternalTransport(clock, 120, INFO.steps_per_beat, t0=0.0)
    Sequencer(source, tracker=NoteTracker(port), transport=transport, info=INFO).play(len(source.bars))
    return [(round(t, 6), m.type, m.channel, m.note) for t, m in port.sent if m.type in ("note_on", "note_off")]


HELD = [Note(8, 16, 60, 1)], [Note(0, 4, 60, 1), Note(4, 16, 62, 1)]  # C4 from beat 3 of bar 1 held on to beat 2 of bar 2


def test_a_held_note_sounds_once_from_its_onset_to_the_end_of_its_continuation():
    sent = play(Bars([(HELD[0], set()), (HELD[1], {(1, 60)})], FULL))
    assert sent[:2] == [(8 * STEP, "note_on", 0, 60), (20 * STEP, "note_off", 0, 60)]
    assert [m for m in sent if m[3] == 60] == sent[:2]  # not released nor struck at the bar line


def test_a_mood_that_shortens_notes_still_holds_a_tie_and_shortens_where_the_note_ends():
    sent = play(Bars([(HELD[0], set()), (HELD[1], {(1, 60)})], DETACHED))
    c4 = [m for m in sent if m[3] == 60]
    assert c4 == [(8 * STEP, "note_on", 0, 60), (pytest.approx((16 + 4 * 0.7) * STEP), "note_off", 0, 60)]
    d4 = [m for m in sent if m[3] == 62]
    assert d4[1][0] == pytest.approx((20 + 12 * 0.7) * STEP)  # a note that is not tied keeps its legato


def test_the_same_pitch_struck_again_at_the_bar_line_is_two_notes():
    sent = play(Bars([(HELD[0], set()), (HELD[1], set())], FULL))  # the model struck it: no tie
    assert [m for m in sent if m[3] == 60] == [(8 * STEP, "note_on", 0, 60), (16 * STEP, "note_off", 0, 60),
                                              (16 * STEP, "note_on", 0, 60), (20 * STEP, "note_off", 0, 60)]


def test_a_tie_to_a_note_that_no_longer_sounds_is_struck():
    early = [Note(8, 12, 60, 1)]  # the bar before released C4 on beat 4
    sent = play(Bars([(early, set()), (HELD[1], {(1, 60)})], FULL))
    assert [m[1] for m in sent if m[3] == 60] == ["note_on", "note_off", "note_on", "note_off"]


def test_a_detached_note_whose_next_bar_was_not_ready_ends_as_performed_and_is_struck_again():
    sent = play(Bars([(HELD[0], set()), (HELD[1], {(1, 60)})], DETACHED, late=frozenset({1})))
    c4 = [m for m in sent if m[3] == 60]
    assert [m[1] for m in c4] == ["note_on", "note_off", "note_on", "note_off"]
    assert c4[1][0] == pytest.approx((8 + 8 * 0.7) * STEP)


def test_a_tie_on_another_channel_or_pitch_holds_nothing_and_every_note_is_released():
    notes = [Note(0, 4, 60, 2), Note(4, 16, 62, 1)]  # C4 in the bass this time
    sent = play(Bars([(HELD[0], set()), (notes, {(2, 60)})], FULL))
    assert [m[1] for m in sent if m[3] == 60] == ["note_on", "note_off", "note_on", "note_off"]
    ons = sum(m[1] == "note_on" for m in sent)
    assert ons == sum(m[1] == "note_off" for m in sent) == 3


def test_drums_are_never_tied():
    assert tied_notes([Note(0, 1, 36, 0), Note(0, 4, 60, 1)], {(0, 36), (1, 60)}, INFO) == frozenset({1})


def test_a_voice_that_holds_its_last_pitch_without_striking_it_is_held_over():
    before = np.array([5, 7, REST, 9], np.int16)
    pitch = np.array([[5, 5], [7, 7], [3, 3], [9, 9]], np.int16)
    onset = np.array([[False, False], [True, False], [False, False], [False, False]])
    assert held_over(before, pitch, onset).tolist() == [True, False, False, True]


def test_an_infill_context_holds_over_only_what_was_heard():
    info = tiny_info()
    pitch = np.array([[12, 12], [REST, 3], [4, 4]], np.int16)  # one step of bar before per voice, steps_per_bar 1
    context = VoiceContext(pitch[:, :1], np.ones((3, 1), bool), 1)
    bar_pitch, bar_onset = pitch[:, 1:], np.zeros((3, 1), bool)
    assert held_notes(context, bar_pitch, bar_onset, info) == {(0, info.lowest_pitch + 12), (2, info.lowest_pitch + 4)}
    hidden = VoiceContext(context.pitch, context.onset, 1, np.array([[True], [False], [False]]))  # voice 0 unheard
    assert held_notes(hidden, bar_pitch, bar_onset, info) == {(2, info.lowest_pitch + 4)}
    assert held_notes(VoiceContext.empty(3), bar_pitch, bar_onset, info) == set()


def test_the_composer_shows_the_next_bar_as_made_so_far_without_taking_it(tmp_path):
    from onnx_models import build_model

    from livegan.generation.composer import make_composer
    from livegan.model.engine import load_model

    composer = make_composer(load_model(build_model(tmp_path / "m.onnx")), mood_now=lambda: (0, FULL), seed=1,
                             lookahead=2, background=False)
    first = composer.take(0)
    ahead = composer.upcoming(1)
    assert ahead is not None and composer.upcoming(5) is None
    assert composer.take(1) is ahead and composer.upcoming(0) is None  # looking moved nothing; bar 0 is gone once past
    composer.freeze(True)
    again = composer.upcoming(2)  # frozen: the phrase taken comes round again, as bar 2
    assert [(on.time, on.pitch) for on, _ in again.notes] == [(on.time, on.pitch) for on, _ in first.notes]
    assert {on.key for on, _ in again.notes} == {(2, i) for i in range(len(first.notes))}
    composer.freeze(False)
    assert composer.upcoming(2) is None  # thawing: where the music goes on is decided when it is taken


def test_bars_moved_by_a_thaw_are_keyed_where_they_now_play(tmp_path):
    from onnx_models import build_model

    from livegan.generation.composer import make_composer
    from livegan.model.engine import load_model

    composer = make_composer(load_model(build_model(tmp_path / "m.onnx")), mood_now=lambda: (0, FULL), seed=1,
                             lookahead=2, background=False)
    for index in range(2):
        composer.take(index)
    composer.freeze(True)
    composer.take(2)  # a repeat of bar 0
    composer.freeze(False)
    for index in (3, 4):  # the bars made before the freeze, moved on by one
        assert {on.key[0] for on, _ in composer.take(index).notes} <= {index}


def test_a_tie_into_another_instrument_is_struck_again_in_it():
    organ = Mood("organ", 0, 0, legato=0.7, programs={"Piano": 19})
    source = Bars([(HELD[0], set()), (HELD[1], {(1, 60)})], DETACHED)
    source.bars[1] = Bars([(HELD[0], set()), (HELD[1], {(1, 60)})], organ).bars[1]
    sent = play(source)
    c4 = [m for m in sent if m[3] == 60]
    assert [m[1] for m in c4] == ["note_on", "note_off", "note_on", "note_off"]
    assert c4[1][0] == pytest.approx((8 + 8 * 0.7) * STEP)  # ended as performed: it is not held on


def test_the_last_bar_of_a_piece_ends_its_notes_as_performed():
    source = Bars([(HELD[0], set()), (HELD[1], {(1, 60)})], DETACHED)
    clock = FakeClock()
    port = MemoryOutput(clock.now)
    Sequencer(source, tracker=NoteTracker(port), transport=InternalTransport(clock, 120, 4, t0=0.0), info=INFO).play(1)
    offs = [t for t, m in port.sent if m.type == "note_off" and m.note == 60]
    assert offs[0] == pytest.approx((8 + 8 * 0.7) * STEP)  # bar 2 is never played: nothing is held for it
