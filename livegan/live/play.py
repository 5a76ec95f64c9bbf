"""Play with LiveGAN: what the player plays becomes what the voices are asked for.

:class:`PlayAlong` reads the :class:`~livegan.mood.player.PlayerState` and where the music is (the
sequencer's :class:`~livegan.timing.sequencer.Playhead`) and returns, each time the composer asks for
the mood, the changes the player's playing makes to it and a version that changes when they do:

- ``chords`` (``--follow chords``): the chord held (settled, latched) is the harmony of the bars
  made from now on; the keys held are never doubled; all keys up lets the model choose again.
- ``melody`` (``--follow melody``): while the player plays a phrase the voices rest; once it ends
  (a bar of silence), it is echoed from the next bar line that can be made in time, harmonized in
  four voices with the player's melody (its top line) as the soprano; then the voices go on.
- ``respond`` (``--respond``): the voices listen; once a phrase ends, they answer it with a
  continuation as long as it was (or ``response_bars``), from the next bar line that can be made in
  time, the phrase being the bars the answer continues; then they listen again.

Times are the input's arrival times and the transport's, on one clock (``time.perf_counter``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livegan.model.contract import ModelInfo
from livegan.mood.player import Played, PlayerState
from livegan.timing.sequencer import Playhead

MODES = ("chords", "melody", "respond")
FOREVER = 1 << 30  # a bar number no stream reaches
MAX_PHRASE_BARS = 8
EARLY_STEPS = 1.0  # a phrase's first note up to a 16th before a bar line belongs to that bar


@dataclass(frozen=True)
class Answer:
    """A phrase that ended and how it is answered: the bars [first, end) and the notes given."""

    phrase_start: float  # when the phrase's first note was played (identifies it)
    phrase_end: float  # when its last note ended
    first: int
    end: int
    given: tuple[tuple[int, int, int, int], ...]
    call_first: int  # the bar the phrase began in


class PlayAlong:
    """The mood changes a player's playing asks for, in one of :data:`MODES`.

    make_seconds : how long the model takes to make a bar wanted soon here (``livegan run``: in a 2-bar window,
        :func:`~livegan.generation.infill.hurried_seconds`); an answer starts at the first bar line
        at least this far (and a half more) ahead.
    """

    def __init__(self, mode: str, player: PlayerState, info: ModelInfo, playhead: Callable[[], Playhead | None],
                 now: Callable[[], float], make_seconds: float = 0.5, response_bars: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.player = player
        self.info = info
        self.playhead = playhead
        self.now = now
        self.make_seconds = make_seconds
        self.response_bars = response_bars
        self.answer: Answer | None = None
        self._playing_from: int | None = None  # the bar a phrase being played began in

    def steer(self) -> tuple[Any, dict[str, Any]]:
        """(version, changes to the mood) now: the version changes exactly when the changes do."""
        if self.mode == "chords":
            held = self.player.chord_at(self.now())
            if held is None:
                return None, {}
            return (held.pitches, held.since), {"chord": held.pitch_classes, "bass": held.bass, "avoid": held.pitches}
        return self._phrases()

    def _phrases(self) -> tuple[Any, dict[str, Any]]:
        head, now = self.playhead(), self.now()
        spb = self.info.steps_per_bar
        if head is not None:
            silence = spb * head.step_seconds
            phrase = self.player.phrase_at(now, silence=silence)
            if phrase and (self.answer is None or phrase[0].start > self.answer.phrase_start):
                self.answer = self._answer(phrase, head, now)
                self._playing_from = None
            elif self._playing_from is None and self._playing(now, silence):
                self._playing_from = head.index + 1  # the player began a phrase: rest from the next bar line
        rests = self._rests()
        given = self.answer.given if self.answer else ()
        return (self.answer.phrase_start if self.answer else None, self._playing_from), {"given": given, "rests": rests}

    def _rests(self) -> tuple[tuple[int, int], ...]:
        a = self.answer
        if self.mode == "respond":  # listening, but for the answer
            return ((0, a.first), (a.end, FOREVER)) if a else ((0, FOREVER),)
        rests = []
        if a is not None:
            rests.append((a.call_first + 1, a.first))
        if self._playing_from is not None:
            rests.append((self._playing_from, FOREVER))
        return tuple(r for r in rests if r[1] > r[0])

    def _playing(self, now: float, silence: float) -> bool:
        """Whether a phrase not yet answered is being played: a key is down, or one went up less than a bar ago."""
        if self.player.held():
            return True
        last = self.player.last_release()
        answered = self.answer.phrase_end if self.answer else -math.inf
        return last is not None and last > answered and now - last < silence

    def _answer(self, phrase: tuple[Played, ...], head: Playhead, now: float) -> Answer:
        spb = self.info.steps_per_bar
        position = lambda t: head.position(t, spb)
        first_bar = math.floor((position(phrase[0].start) + EARLY_STEPS) / spb)
        notes = [(round(position(n.start)) - first_bar * spb, max(round(position(n.start)) + 1, round(position(n.end)))
                  - first_bar * spb, n.pitch) for n in phrase]
        notes = [(max(0, a), b, p) for a, b, p in notes if b > 0 and a < MAX_PHRASE_BARS * spb]
        length = max(1, min(MAX_PHRASE_BARS, math.ceil(max(b for _, b, _ in notes) / spb)))
        next_line = head.started + spb * head.step_seconds
        first = head.index + 1 if next_line - now >= 1.5 * self.make_seconds else head.index + 2
        if self.mode == "melody":
            given = tuple((0, first * spb + a, first * spb + b, p) for a, b, p in top_line(notes))
            return Answer(phrase[0].start, max(n.end for n in phrase), first, first + length, given, first_bar)
        bars = self.response_bars or length
        dealt = deal_to_voices(notes, len(self.info.tracks))
        given = tuple((v, first_bar * spb + a, first_bar * spb + b, p) for v, a, b, p in dealt)
        return Answer(phrase[0].start, max(n.end for n in phrase), first, first + bars, given, first_bar)


def top_line(notes: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The melody of played notes (start, end, pitch): at each start the highest, each cut where the next begins."""
    starts: dict[int, tuple[int, int, int]] = {}
    for a, b, p in notes:
        if a not in starts or p > starts[a][2]:
            starts[a] = (a, b, p)
    line = [starts[a] for a in sorted(starts)]
    return [(a, min(b, line[i + 1][0]) if i + 1 < len(line) else b, p) for i, (a, b, p) in enumerate(line)]


def deal_to_voices(notes: list[tuple[int, int, int]], voices: int) -> list[tuple[int, int, int, int]]:
    """Played notes (start, end, pitch) -> (voice, start, end, pitch): a melody is the soprano; in chords, the
    highest of the notes sounding at a note's start goes to the soprano, the lowest to the bass, the rest between."""
    out = []
    for a, b, p in notes:
        sounding = sorted({q for x, y, q in notes if x <= a < y}, reverse=True)
        rank = sounding.index(p)
        if len(sounding) == 1:
            voice = 0
        elif rank == len(sounding) - 1:
            voice = voices - 1
        else:
            voice = min(rank, voices - 2)
        out.append((voice, a, b, p))
    return out
