"""Build a phrase dataset from sources: the music21 corpus, an LPD-5 folder, a MIDI folder.

``SOURCE`` is ``music21`` (or ``music21:chorales``, ``music21:quartets``), or a
folder holding pypianoroll ``.npz`` files (LPD-5) or MIDI files. All sources of
one dataset must map to the same track set. See :mod:`livegan.training.data.labels`
for the label rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from livegan.errors import UserError
from livegan.model.contract import Track
from livegan.music.dataset import DataConfig, PhraseSet
from livegan.training.data import labels as lab
from livegan.training.data.phrases import cut_phrases, cut_voices
from livegan.training.data.song import LPD5_TRACKS, SATB_TRACKS, Song

log = logging.getLogger(__name__)

LABEL_MODES = ("auto", "names", "computed")


def source_kind(source: str) -> tuple[str, tuple[Track, ...]]:
    """A SOURCE argument -> ("music21" | "lpd" | "midi", its track set); a bad one raises UserError."""
    if source.split(":")[0] == "music21":
        return "music21", SATB_TRACKS
    folder = Path(source)
    if not folder.is_dir():
        raise UserError(f"source '{source}' is neither 'music21[:chorales,quartets]' nor a folder: pass one of those")
    if next(folder.rglob("*.npz"), None) is not None:
        return "lpd", LPD5_TRACKS
    from livegan.training.data.midifolder import midi_paths

    if midi_paths(folder):
        return "midi", LPD5_TRACKS
    raise UserError(f"source folder '{source}' holds no .npz (LPD-5) or .mid files")


def read_songs(source: str, grid: DataConfig, limit: int | None = None) -> Iterator[Song]:
    """The songs of one source, on the grid of ``grid.steps_per_beat`` steps a quarter note."""
    kind, _ = source_kind(source)
    if grid.monophonic and kind != "music21":
        raise UserError(f"source '{source}' has no voices to read one by one: data.monophonic = true needs "
                        "'music21:chorales' or 'music21:quartets'")
    if kind == "music21":
        from livegan.training.data.corpus import read_corpus

        return read_corpus(source, grid.steps_per_beat, limit, monophonic=grid.monophonic)
    if kind == "lpd":
        from livegan.training.data.lpd import read_lpd_folder

        return read_lpd_folder(Path(source), grid.steps_per_beat, limit)
    from livegan.training.data.midifolder import read_midi_folder

    return read_midi_folder(Path(source), grid.steps_per_beat, limit)


def build_dataset(sources: list[str], grid: DataConfig, labels: str = "auto",
                  limit: int | None = None, progress: bool = False) -> PhraseSet:
    """Read, cut and label every source into one :class:`PhraseSet`.

    labels : ``auto`` (EMOPIA file names where they match, else computed), ``names``
        (file names only; a file without a quadrant name is an error), ``computed``,
        or the path of a CSV ``file,valence,arousal``.
    limit : read at most this many pieces per source (quick builds and tests).
    """
    track_sets = {source_kind(s)[1] for s in sources}
    if len(track_sets) != 1:
        raise UserError(f"sources {sources} map to different track sets; build one dataset per kind of source")
    tracks = track_sets.pop()
    table = _label_table(labels)
    songs: list[Song] = []
    for source in sources:
        songs.extend(_labelled(read_songs(source, grid, limit), labels, table))
        if progress:
            log.info("%s: %d pieces so far", source, len(songs))
    return _assemble(songs, grid, tracks, sources, labels)


def _label_table(labels: str) -> dict[str, tuple[float, float]] | None:
    if labels in LABEL_MODES:
        return None
    return lab.read_label_csv(labels)


def _labelled(songs: Iterable[Song], labels: str, table: dict[str, tuple[float, float]] | None) -> Iterator[Song]:
    """Attach file-name or CSV labels to songs; ``computed`` clears them."""
    for song in songs:
        if table is not None:
            song.label = table.get(Path(song.name).stem)
        elif labels == "computed":
            song.label = None
        elif labels in ("auto", "names"):
            song.label = lab.quadrant_from_name(song.name)
            if song.label is None and labels == "names":
                raise UserError(f"'{song.name}' has no EMOPIA quadrant name (Q1_... to Q4_...): use --labels auto or computed")
        yield song


def _assemble(songs: list[Song], grid: DataConfig, tracks: tuple[Track, ...], sources: list[str],
              labels: str) -> PhraseSet:
    chunks, given, song_index, starts, qpms, onsets, fermatas = [], [], [], [], [], [], []
    for index, song in enumerate(songs):
        phrases, first_bars = cut_phrases(song, grid)
        if grid.monophonic:  # a voice leaving the pitch window would fall silent: keep whole voices only
            whole = [_inside(song, grid, b) for b in first_bars]
            phrases, first_bars = phrases[whole], first_bars[whole]
            struck, marks = cut_voices(song, grid, first_bars)
            onsets.append(struck)
            fermatas.append(marks)
        chunks.append(phrases)
        given.extend([song.label] * len(phrases))
        song_index.extend([index] * len(phrases))
        starts.extend(first_bars.tolist())
        qpms.extend([song.qpm] * len(phrases))
    if not chunks or sum(len(c) for c in chunks) == 0:
        raise UserError(f"no phrase of {grid.bars} bars with >= {grid.min_notes} notes was found in {', '.join(sources)}")
    phrases = np.concatenate(chunks)
    drums = [t.is_drum for t in tracks]
    values = compute_labels(phrases, np.array(qpms), grid, drums, given)
    meta = {"sources": sources, "label_mode": labels, "n_songs": len(songs),
            "computed_labels": int(sum(g is None for g in given)), "label_rule": LABEL_RULE}
    return PhraseSet(phrases, values, np.array(song_index), np.array(starts), [s.name for s in songs], grid, tracks, meta,
                     np.concatenate(onsets) if grid.monophonic else None,
                     np.concatenate(fermatas) if grid.monophonic else None)


def _inside(song: Song, grid: DataConfig, first_bar: int) -> bool:
    """Whether every note of the phrase starting at ``first_bar`` lies inside the pitch window."""
    steps = slice(first_bar * grid.steps_per_bar, first_bar * grid.steps_per_bar + grid.phrase_steps)
    sounding = song.roll[:, steps].any(axis=(0, 1))
    return not sounding[:grid.lowest_pitch].any() and not sounding[grid.lowest_pitch + grid.n_pitches:].any()


LABEL_RULE = ("valence: best-major minus best-minor Krumhansl-Kessler key correlation of the phrase's "
              "duration-weighted pitch-class histogram, divided by its 95th percentile |value| in the dataset, "
              "clipped to [-1, 1]; arousal: log2 note onsets per second (tempo from the source), as a percentile "
              "rank in the dataset mapped to [-1, 1]; EMOPIA names Q1-Q4 give (+-0.5, +-0.5)")


def compute_labels(phrases: np.ndarray, qpm: np.ndarray, grid: DataConfig, drums: list[bool],
                   given: list[tuple[float, float] | None]) -> np.ndarray:
    """Labels [N, 2]: the given ones where present, computed ones (scaled over those phrases) elsewhere."""
    out = np.array([g if g is not None else (0.0, 0.0) for g in given], dtype=np.float32).reshape(-1, 2)
    todo = np.array([g is None for g in given], dtype=bool)
    if todo.any():
        flat = phrases[todo].reshape(int(todo.sum()), phrases.shape[1], -1, phrases.shape[-1])
        scores = [lab.mode_score(p, grid.lowest_pitch, drums) for p in flat]
        density = [lab.onsets_per_second(p, grid.steps_per_beat, q) for p, q in zip(flat, qpm[todo])]
        out[todo, 0] = lab.scale_valence(np.array(scores))
        out[todo, 1] = lab.scale_arousal(np.array(density))
    return out
