"""The Lakh Pianoroll Dataset (LPD-5 cleansed) as a source: a folder of pypianoroll .npz files.

Each file is a zip holding, per track ``i``, ``pianoroll_i_csc_{data,indices,indptr,shape}.npy``
(a [time, 128] matrix in compressed sparse columns), ``tempo.npy`` (qpm per time
step), ``downbeat.npy`` (bool per time step) and ``info.json`` (``beat_resolution``
and, per track index, ``name``, ``program`` and ``is_drum``). Read with numpy and
zipfile, no pypianoroll or scipy. Tracks map to :data:`LPD5_TRACKS` by name.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from livegan.errors import UserError
from livegan.music.roll import Note, roll_to_notes
from livegan.training.data.song import LPD5_TRACKS, Song, song_from_notes

log = logging.getLogger(__name__)


def read_lpd_folder(folder: Path, steps_per_beat: int, limit: int | None = None) -> Iterator[Song]:
    """Songs of every ``*.npz`` under ``folder`` (recursively, sorted); unreadable files are skipped with a warning."""
    paths = sorted(folder.rglob("*.npz"))[:limit]
    for path in paths:
        try:
            yield read_lpd_file(path, steps_per_beat)
        except UserError as exc:
            log.warning("%s", exc)


def read_lpd_file(path: Path, steps_per_beat: int) -> Song:
    """One pypianoroll .npz -> a :class:`Song` on the grid (notes re-quantised from the file's resolution)."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = json.loads(archive.read("info.json"))
        with np.load(path) as data:
            rolls = _track_rolls(data, info)
            tempo = data["tempo"] if "tempo" in data.files else np.array([120.0])
            downbeat = data["downbeat"] if "downbeat" in data.files else np.zeros(0, dtype=bool)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
        raise UserError(f"'{path}' is not a pypianoroll .npz file ({type(exc).__name__}: {exc}); skipped") from None
    resolution = int(info.get("beat_resolution", 24))
    offset = int(np.argmax(downbeat)) if downbeat.any() else 0
    notes = [_requantise(n, offset, resolution, steps_per_beat) for n in _lpd_notes(rolls)]
    qpm = float(tempo[0]) if len(tempo) else 120.0
    return song_from_notes(path.stem, [n for n in notes if n is not None], len(LPD5_TRACKS), qpm)


def _track_rolls(data: np.lib.npyio.NpzFile, info: dict) -> dict[int, np.ndarray]:
    """LPD-5 track index -> bool [time, 128], matched by the track names in ``info.json``."""
    names = {t.name.lower(): i for i, t in enumerate(LPD5_TRACKS)}
    rolls: dict[int, np.ndarray] = {}
    index = 0
    while str(index) in info:
        track = info[str(index)]
        target = names.get(str(track.get("name", "")).lower())
        if target is None:
            target = 0 if track.get("is_drum") else names["strings"]
        dense = _csc_to_dense(data, f"pianoroll_{index}")
        rolls[target] = dense if target not in rolls else (rolls[target] | dense)
        index += 1
    return rolls


def _csc_to_dense(data: np.lib.npyio.NpzFile, prefix: str) -> np.ndarray:
    """Compressed-sparse-column parts -> bool [rows, cols] (a cell is on when its value is non-zero)."""
    values = data[f"{prefix}_csc_data"]
    rows = data[f"{prefix}_csc_indices"]
    indptr = data[f"{prefix}_csc_indptr"]
    shape = tuple(int(s) for s in data[f"{prefix}_csc_shape"])
    dense = np.zeros(shape, dtype=bool)
    cols = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    dense[rows, cols] = values != 0
    return dense


def _lpd_notes(rolls: dict[int, np.ndarray]) -> list[Note]:
    drums = [t.is_drum for t in LPD5_TRACKS]
    notes: list[Note] = []
    for track, roll in rolls.items():
        flags = [False] * len(drums)
        flags[track] = drums[track]
        lane = np.zeros((len(drums),) + roll.shape, dtype=bool)
        lane[track] = roll
        notes.extend(roll_to_notes(lane, 0, flags))
    return notes


def _requantise(note: Note, offset: int, resolution: int, steps_per_beat: int) -> Note | None:
    """A note at ``resolution`` steps a beat -> the grid; drum hits stay one step long."""
    scale = steps_per_beat / resolution
    start = int(round((note.start - offset) * scale))
    if LPD5_TRACKS[note.track].is_drum:
        end = start + 1
    else:
        end = max(int(round((note.end - offset) * scale)), start + 1)
    return Note(start, end, note.pitch, note.track) if start >= 0 else None


def write_lpd_file(path: Path, rolls: list[np.ndarray], names: list[str], programs: list[int],
                   drums: list[bool], resolution: int = 24, qpm: float = 120.0) -> Path:
    """Write bool rolls [time, 128] in pypianoroll's .npz layout (the inverse of :func:`read_lpd_file`)."""
    steps = max(r.shape[0] for r in rolls)
    arrays: dict[str, np.ndarray] = {"tempo": np.full(steps, qpm), "downbeat": np.arange(steps) % (4 * resolution) == 0}
    info: dict = {"beat_resolution": resolution, "name": path.stem}
    for i, roll in enumerate(rolls):
        rows, cols = np.nonzero(roll.T)  # column-major: pitch, then time
        arrays[f"pianoroll_{i}_csc_data"] = np.full(rows.size, 100, dtype=np.uint8)
        arrays[f"pianoroll_{i}_csc_indices"] = cols.astype(np.int32)
        arrays[f"pianoroll_{i}_csc_indptr"] = np.concatenate([[0], np.cumsum(roll.sum(axis=0))]).astype(np.int32)
        arrays[f"pianoroll_{i}_csc_shape"] = np.array(roll.shape)
        info[str(i)] = {"name": names[i], "program": programs[i], "is_drum": drums[i]}
    np.savez_compressed(path, **arrays)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("info.json", json.dumps(info))
    return path
