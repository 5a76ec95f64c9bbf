"""The phrase dataset file: phrases, one mood label each, and what they came from.

Saved as one compressed ``.npz`` (no pickles):

- ``phrases``  uint8, the bool array [N, tracks, bars, steps_per_bar, pitches] bit-packed;
- ``shape``    int64 [5], the unpacked shape;
- ``labels``   float32 [N, 2], (valence, arousal) in [-1, 1];
- ``song``     int32 [N], index into ``songs``; ``start_bar`` int32 [N];
- ``songs``    str [S], source piece names;
- ``meta``     str, JSON: format tag, grid (:class:`DataConfig`), tracks, sources, label rule.

A dataset of monophonic voices (``grid.monophonic``; version 2) also holds:

- ``onsets``   uint8, bool [N, tracks, bars, steps_per_bar, pitches] bit-packed: where a note is
  struck, so a held note (no onset) and a repeated one (an onset) differ; ``phrases`` then holds
  at most one pitch per track and step, and held notes are not shortened;
- ``fermatas`` bool [N, bars, steps_per_bar]: steps under a fermata in the score (cadences).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livegan.errors import UserError
from livegan.model.contract import Track

FORMAT = "livegan-phrases"
VERSION = 2
READABLE = (1, 2)  # version 1: no onsets or fermatas


@dataclass
class PhraseSet:
    """Phrases [N, T, B, S, P] (bool) with labels [N, 2] and provenance."""

    phrases: np.ndarray
    labels: np.ndarray
    song: np.ndarray
    start_bar: np.ndarray
    songs: list[str]
    grid: DataConfig
    tracks: tuple[Track, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    onsets: np.ndarray | None = None
    fermatas: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.phrases.shape[0])

    @property
    def drums(self) -> np.ndarray:
        return np.array([t.is_drum for t in self.tracks], dtype=bool)

    def save(self, path: str | Path) -> Path:
        """Write the compressed .npz (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {**self.meta, "format": FORMAT, "version": VERSION, "grid": asdict(self.grid),
                "tracks": [asdict(t) for t in self.tracks]}
        extra = {}
        if self.onsets is not None:
            extra["onsets"] = np.packbits(self.onsets.astype(bool).ravel())
        if self.fermatas is not None:
            extra["fermatas"] = self.fermatas.astype(bool)
        with path.open("wb") as handle:
            np.savez_compressed(
                handle, phrases=np.packbits(self.phrases.astype(bool).ravel()),
                shape=np.array(self.phrases.shape, dtype=np.int64), labels=self.labels.astype(np.float32),
                song=self.song.astype(np.int32), start_bar=self.start_bar.astype(np.int32),
                songs=np.array(self.songs, dtype=str), meta=np.array(json.dumps(meta)), **extra,
            )
        return path


def load_phrases(path: str | Path) -> PhraseSet:
    """Read a dataset written by :meth:`PhraseSet.save`; anything else raises a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"dataset '{path}' does not exist: build one with 'livegan data build SOURCE -o {path}'")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            shape = tuple(int(s) for s in data["shape"])
            bits = np.unpackbits(data["phrases"], count=int(np.prod(shape)))
            arrays = {k: data[k] for k in ("labels", "song", "start_bar", "songs")}
            onsets = np.unpackbits(data["onsets"], count=int(np.prod(shape))) if "onsets" in data else None
            fermatas = data["fermatas"].astype(bool) if "fermatas" in data else None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, json.JSONDecodeError) as exc:
        raise UserError(f"dataset '{path}' is not a LiveGAN phrase dataset ({type(exc).__name__}); "
                        "build one with 'livegan data build'") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") not in READABLE:
        raise UserError(f"dataset '{path}' is not a LiveGAN phrase dataset (format {meta.get('format')!r}, "
                        f"version {meta.get('version')!r}); build one with 'livegan data build'")
    tracks = tuple(Track(**t) for t in meta["tracks"])
    return PhraseSet(bits.reshape(shape).astype(bool), arrays["labels"], arrays["song"], arrays["start_bar"],
                     [str(s) for s in arrays["songs"]], DataConfig(**meta["grid"]), tracks, meta,
                     onsets.reshape(shape).astype(bool) if onsets is not None else None, fermatas)


@dataclass(frozen=True)
class DataConfig:
    """The phrase grid and the rules that keep or drop a phrase."""

    bars: int = 4
    beats_per_bar: int = 4
    steps_per_beat: int = 4
    lowest_pitch: int = 24
    n_pitches: int = 72
    hop_bars: int = 1
    min_notes: int = 8
    max_empty_bars: int = 0
    monophonic: bool = False  # one pitch or a rest per track and step, onsets and fermatas kept (voices)

    def __post_init__(self) -> None:
        check_range("data.bars", self.bars, 1, 64)
        check_range("data.beats_per_bar", self.beats_per_bar, 1, 16)
        check_range("data.steps_per_beat", self.steps_per_beat, 1, 96)
        check_range("data.lowest_pitch", self.lowest_pitch, 0, 127)
        check_range("data.n_pitches", self.n_pitches, 12, 128 - self.lowest_pitch)
        if self.n_pitches % 12:
            raise UserError(f"config data.n_pitches must be a multiple of 12, got {self.n_pitches}")
        check_range("data.hop_bars", self.hop_bars, 1, 64)
        check_range("data.min_notes", self.min_notes, 0, 100000)
        check_range("data.max_empty_bars", self.max_empty_bars, 0, self.bars)
        if not isinstance(self.monophonic, bool):
            raise UserError(f"config data.monophonic must be true or false, got {self.monophonic!r}")

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar

    @property
    def phrase_steps(self) -> int:
        """Time steps in one phrase (all bars)."""
        return self.steps_per_bar * self.bars

def check_range(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UserError(f"config {name} must be an integer in [{low}, {high}], got {value!r}")
