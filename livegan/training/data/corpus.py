"""music21's bundled corpus as a source: Bach chorales and string quartets, four voices each.

Both map to :data:`~livegan.training.data.song.SATB_TRACKS` by part order (soprano or
first violin first, bass or cello last). Only pieces whose every bar lasts four
quarter notes (4/4, 2/2) are read; a pickup bar is skipped so that step 0 is a
downbeat. music21 is imported lazily.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from livegan.errors import UserError
from livegan.music.roll import Note
from livegan.training.data.song import SATB_TRACKS, Song, song_from_notes, to_step

log = logging.getLogger(__name__)

COLLECTIONS = ("chorales", "quartets")
QUARTET_COMPOSERS = ("haydn", "mozart", "beethoven")
DEFAULT_QPM = 100.0  # chorales carry no tempo mark


def parse_spec(spec: str) -> tuple[str, ...]:
    """``music21`` -> all collections; ``music21:chorales,quartets`` -> the named ones."""
    _, _, names = spec.partition(":")
    chosen = tuple(n.strip() for n in names.split(",") if n.strip()) or COLLECTIONS
    unknown = [n for n in chosen if n not in COLLECTIONS]
    if unknown:
        raise UserError(f"unknown music21 collection '{unknown[0]}' in '{spec}': use {', '.join(COLLECTIONS)}")
    return chosen


def corpus_paths(collection: str) -> list[Any]:
    """Paths of a collection's pieces in music21's corpus, sorted for a stable order."""
    from music21 import corpus

    if collection == "chorales":
        paths = [p for p in corpus.getComposer("bach") if "bwv" in str(p).lower()]
    else:
        paths = [p for c in QUARTET_COMPOSERS for p in corpus.getComposer(c) if str(p).endswith(".mxl")]
    return sorted(paths, key=str)


def read_corpus(spec: str, steps_per_beat: int, limit: int | None = None, monophonic: bool = False) -> Iterator[Song]:
    """Songs of the collections named in ``spec``; pieces that do not fit are skipped with a debug log.

    ``monophonic``: each part is one voice, notes keep their onsets, fermatas are kept.
    """
    from music21 import corpus

    for collection in parse_spec(spec):
        paths = corpus_paths(collection)[:limit]
        for path in paths:
            try:
                score = corpus.parse(path)
            except Exception as exc:  # a corpus file music21 itself cannot read (music21 raises many kinds)
                log.warning("skipping corpus file %s: music21 cannot read it (%s)", _short_name(path), exc)
                continue
            song = score_to_song(score, _short_name(path), steps_per_beat, monophonic)
            if song is not None:
                yield song


def _short_name(path: Any) -> str:
    parts = str(path).replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def score_to_song(score: Any, name: str, steps_per_beat: int, monophonic: bool = False) -> Song | None:
    """A four-part music21 score in four-quarter bars -> a :class:`Song`, or ``None`` when it does not fit.

    A fermata marks the steps of the note it stands over (in any part).
    """
    parts = list(score.parts)
    if len(parts) != len(SATB_TRACKS) or not _four_quarter_bars(score):
        return None
    start = _first_downbeat(parts[0])
    notes: list[Note] = []
    fermatas: set[int] = set()
    for track, part in enumerate(parts):
        for element in part.stripTies().flatten().notes:
            begin = to_step(float(element.offset) - start, steps_per_beat)
            end = to_step(float(element.offset + element.quarterLength) - start, steps_per_beat)
            notes.extend(Note(begin, end, int(p.midi), track) for p in element.pitches)
            if any(type(e).__name__ == "Fermata" for e in element.expressions):
                fermatas.update(range(begin, end))
    return song_from_notes(name, notes, len(SATB_TRACKS), _tempo(score), monophonic=monophonic, fermatas=fermatas)


def _four_quarter_bars(score: Any) -> bool:
    signatures = list(score.recurse().getElementsByClass("TimeSignature"))
    return bool(signatures) and all(float(ts.barDuration.quarterLength) == 4.0 for ts in signatures)


def _first_downbeat(part: Any) -> float:
    """Offset in quarter notes of the first full bar (after a pickup)."""
    for measure in part.getElementsByClass("Measure"):
        if float(measure.paddingLeft) == 0.0 and float(measure.duration.quarterLength) >= 4.0:
            return float(measure.offset)
    return 0.0


def _tempo(score: Any) -> float:
    marks = list(score.recurse().getElementsByClass("MetronomeMark"))
    for mark in marks:
        qpm = mark.getQuarterBPM()
        if qpm:
            return float(qpm)
    return DEFAULT_QPM
