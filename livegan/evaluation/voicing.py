"""Part-writing figures: do the voices behave as voices, as a musician reading the score would check.

Measured on notes on the step grid (``track`` = voice, highest voice first), over whole pieces:
32-bar renders through the daemon's own path for a model, 4-bar windows for the data. Pure numpy.

Figures (per voice where it makes sense; shares in [0, 1]):

- ``polyphonic_steps``: steps where a voice sounds 2 or more pitches, of all its steps; ``max_pitches``;
- ``all_voices_sound``: steps where every voice sounds;
- ``stepwise``: successive notes of a voice that move by 2 semitones or less (repeats included);
- ``out_of_order``: steps where a voice sounds below the one under it (S<A, A<T, T<B), of the steps
  both sound; ``any_out_of_order`` over all steps where any pair could be compared;
- ``eighth_or_longer``: notes lasting half a beat or more;
- ``held_phrase_ends``: phrases (every ``phrase_bars`` bars) whose last half bar holds a chord of every
  voice, unstruck, for a beat or more: a cadence that lands;
- ``repeated_from_previous_bar``: notes of a bar (voice, position, pitch) that the bar before had too;
- ``parallel_perfect``: pairs of voices moving together from a fifth to a fifth or from an octave
  (unison) to an octave, of the steps where both move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from livegan.music.roll import Note

HELD_STEPS_OF_A_BEAT = 1.0  # a cadence chord is held a beat or more


@dataclass(frozen=True)
class Grid:
    """The step grid pieces are measured on."""

    steps_per_beat: int = 4
    beats_per_bar: int = 4
    phrase_bars: int = 4

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar


def voice_counts(notes: Sequence[Note], voices: int, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitches sounding int [V, T], top pitch int [V, T] (-1 silent), struck bool [V, T]) of a piece."""
    count = np.zeros((voices, steps), np.int16)
    top = np.full((voices, steps), -1, np.int16)
    struck = np.zeros((voices, steps), bool)
    for n in notes:
        if 0 <= n.track < voices and n.start < steps:
            span = slice(max(n.start, 0), min(n.end, steps))
            count[n.track, span] += 1
            top[n.track, span] = np.maximum(top[n.track, span], n.pitch)
            if n.start >= 0:
                struck[n.track, n.start] = True
    return count, top, struck


def piece_figures(notes: Sequence[Note], voices: int, bars: int, grid: Grid) -> dict[str, Any]:
    """Counts (numerators and denominators) of every figure for one piece of ``bars`` bars; see :func:`summarise`."""
    steps = bars * grid.steps_per_bar
    count, top, struck = voice_counts(notes, voices, steps)
    sounding = count > 0
    out: dict[str, Any] = {
        "bars": bars, "steps": steps, "voice_steps": np.full(voices, steps), "polyphonic": (count >= 2).sum(axis=1),
        "max_pitches": int(count.max(initial=0)), "all_sound": int(sounding.all(axis=0).sum()),
    }
    pairs = [(v, v + 1) for v in range(voices - 1)]
    both = np.array([(sounding[a] & sounding[b]).sum() for a, b in pairs])
    crossed = np.array([(sounding[a] & sounding[b] & (top[a] < top[b])).sum() for a, b in pairs])
    comparable = np.zeros(steps, bool)
    wrong = np.zeros(steps, bool)
    for a, b in pairs:
        here = sounding[a] & sounding[b]
        comparable |= here
        wrong |= here & (top[a] < top[b])
    out.update(pair_steps=both, crossed=crossed, any_comparable=int(comparable.sum()), any_crossed=int(wrong.sum()))
    by_voice = [sorted((n for n in notes if n.track == v), key=lambda n: (n.start, -n.pitch)) for v in range(voices)]
    moves = [np.abs(np.diff([n.pitch for n in line])) for line in by_voice]
    out["moves"] = np.array([len(m) for m in moves])
    out["steps_moves"] = np.array([int((m <= 2).sum()) for m in moves])
    out["notes"] = np.array([len(line) for line in by_voice])
    out["long_notes"] = np.array([sum(n.end - n.start >= grid.steps_per_beat / 2 for n in line) for line in by_voice])
    out["phrases"], out["held_ends"] = _held_ends(sounding, struck, bars, grid)
    out["bar_notes"], out["repeated"] = _repeats(notes, bars, grid)
    out["both_move"], out["parallel"] = _parallels(top, struck, sounding)
    return out


def _held_ends(sounding: np.ndarray, struck: np.ndarray, bars: int, grid: Grid) -> tuple[int, int]:
    """(phrases, phrases whose last half bar holds a full chord unstruck for a beat or more)."""
    spb, beat = grid.steps_per_bar, grid.steps_per_beat
    need = max(1, int(round(HELD_STEPS_OF_A_BEAT * beat)))
    phrases = bars // grid.phrase_bars
    held = 0
    for p in range(phrases):
        end = (p + 1) * grid.phrase_bars * spb
        full = sounding[:, end - spb // 2:end].all(axis=0)
        fresh = struck[:, end - spb // 2:end].any(axis=0)
        run, best = 0, 0
        for t in range(spb // 2):
            run = (run + 1 if run and not fresh[t] else 1) if full[t] else 0
            best = max(best, run)
        held += best >= need
    return phrases, held


def _repeats(notes: Sequence[Note], bars: int, grid: Grid) -> tuple[int, int]:
    """(notes struck in bars 2.., of them those whose (voice, position, pitch) the bar before struck)."""
    spb = grid.steps_per_bar
    per_bar: list[set[tuple[int, int, int]]] = [set() for _ in range(bars)]
    for n in notes:
        if 0 <= n.start < bars * spb:
            per_bar[n.start // spb].add((n.track, n.start % spb, n.pitch))
    total = sum(len(per_bar[b]) for b in range(1, bars))
    repeated = sum(len(per_bar[b] & per_bar[b - 1]) for b in range(1, bars))
    return total, repeated


def _parallels(top: np.ndarray, struck: np.ndarray, sounding: np.ndarray) -> tuple[int, int]:
    """(pair-steps where both voices move to a new pitch, of them parallel fifths or octaves/unisons)."""
    voices = top.shape[0]
    moved = struck[:, 1:] & sounding[:, :-1] & (top[:, 1:] != top[:, :-1])
    both, parallel = 0, 0
    for a in range(voices):
        for b in range(a + 1, voices):
            here = moved[a] & moved[b]
            before = (top[a, :-1] - top[b, :-1]) % 12
            after = (top[a, 1:] - top[b, 1:]) % 12
            both += int(here.sum())
            parallel += int((here & (before == after) & ((after == 7) | (after == 0))).sum())
    return both, parallel


def summarise(counts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pooled figures of many pieces' :func:`piece_figures`: shares per voice and overall."""
    total = {k: sum(np.asarray(c[k]) for c in counts) for k in counts[0] if k != "max_pitches"}
    ratio = _ratio
    return {
        "pieces": len(counts),
        "polyphonic_steps": ratio(total["polyphonic"], total["voice_steps"]),
        "polyphonic_steps_mean": ratio(total["polyphonic"].sum(), total["voice_steps"].sum()),
        "max_pitches": max(int(c["max_pitches"]) for c in counts),
        "all_voices_sound": ratio(total["all_sound"], total["steps"]),
        "stepwise": ratio(total["steps_moves"], total["moves"]),
        "stepwise_mean": ratio(total["steps_moves"].sum(), total["moves"].sum()),
        "out_of_order": ratio(total["crossed"], total["pair_steps"]),
        "any_out_of_order": ratio(total["any_crossed"], total["any_comparable"]),
        "eighth_or_longer": ratio(total["long_notes"], total["notes"]),
        "eighth_or_longer_mean": ratio(total["long_notes"].sum(), total["notes"].sum()),
        "held_phrase_ends": ratio(total["held_ends"], total["phrases"]),
        "repeated_from_previous_bar": ratio(total["repeated"], total["bar_notes"]),
        "parallel_perfect": ratio(total["parallel"], total["both_move"]),
        "notes_per_bar": ratio(total["notes"].sum(), total["bars"]),
    }


def _ratio(num: Any, den: Any) -> Any:
    num, den = np.asarray(num, float), np.asarray(den, float)
    out = np.divide(num, den, out=np.full(np.broadcast(num, den).shape, math.nan), where=den > 0)
    return out.tolist() if out.ndim else float(out)


def phrase_notes(pitch: np.ndarray, onset: np.ndarray | None, roll: np.ndarray, lowest_pitch: int) -> list[Note]:
    """A window of the data as notes: from its voices (pitch, onset [V, T]) when it has them, else from its roll [V, T, P]."""
    if onset is not None:
        from livegan.music.voices import voices_to_notes

        return voices_to_notes(pitch, onset, lowest_pitch)
    from livegan.music.roll import roll_to_notes

    return roll_to_notes(roll, lowest_pitch, [False] * roll.shape[0])
