"""Measure a generator: MuseGAN's metrics against the training data, mood control, originality.

Pure numpy on top of :mod:`livegan.evaluation.metrics` (every musical metric is computed there) and
:class:`~livegan.model.engine.OnnxGenerator`; no torch, so ``livegan eval`` runs wherever the
daemon does. The result is a JSON-ready dict; :mod:`livegan.commands.eval` prints and plots it.

Shapes and units
----------------
- rolls: bool [N, tracks, bars, steps_per_bar, pitches], the model's layout, binarized at the
  model's threshold exactly as the daemon plays them.
- moods: float32 [N, 2], (valence, arousal) in [-1, 1].
- Note density is in notes per bar (all tracks together); IoU is |A & B| / |A | B| over active cells.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livegan.errors import UserError
from livegan.evaluation.metrics import phrase_metrics, tonal_distances
from livegan.model.contract import ModelInfo, decode_voices
from livegan.mood.presets import Mood
from livegan.music.analysis import phrase_densities, phrase_modes, spearman
from livegan.music.dataset import load_phrases
from livegan.evaluation.voicing import Grid, phrase_notes, piece_figures, summarise
from livegan.music.roll import Note, binarize, notes_to_roll


@dataclass(frozen=True)
class EvalOptions:
    """What ``livegan eval`` measures, and how much of it.

    phrases : generated phrases scored against the training data (moods drawn from its labels,
        or uniform on the plane without data).
    per_cell : phrases per mood preset and per valence/arousal grid cell (the same latents in every cell).
    grid : points per axis of the valence x arousal grid (``linspace(-1, 1, grid)``).
    near : IoU at or above which a generated phrase counts as a near copy.
    max_shift : transpositions tried, in semitones each way (drums are never transposed).
    max_reference : training phrases kept (a seeded random subsample above this).
    """

    phrases: int = 1000
    batch: int = 250
    seed: int = 0
    threshold: float | None = None
    per_cell: int = 40
    grid: int = 5
    near: float = 0.9
    max_shift: int = 12
    max_reference: int = 20000
    streams: int = 3  # renders per mood for the part-writing figures (10 moods)
    stream_bars: int = 32


@dataclass
class Reference:
    """Training phrases in the model's layout (possibly a subsample) and where they came from."""

    path: str
    rolls: np.ndarray  # bool [M, T, B, S, P]
    labels: np.ndarray  # float32 [M, 2]
    song: np.ndarray  # int [M]
    total: int  # phrases in the file
    label_rule: str = ""  # how the dataset's (valence, arousal) labels were made
    onsets: np.ndarray | None = None  # bool [M, T, B, S, P] where notes are struck (a dataset of voices)


def load_reference(path: str | Path, info: ModelInfo, max_phrases: int, seed: int = 0) -> Reference:
    """Read a ``livegan data build`` .npz (numpy only) and check that it fits the model's grid and tracks."""
    data = load_phrases(path)
    grid = data.grid
    pairs = {"steps_per_beat": (grid.steps_per_beat, info.steps_per_beat),
             "beats_per_bar": (grid.beats_per_bar, info.beats_per_bar), "bars": (grid.bars, info.bars),
             "drum tracks": ([t.is_drum for t in data.tracks], [t.is_drum for t in info.tracks])}
    problems = [f"{k} {got} (model: {want})" for k, (got, want) in pairs.items() if got != want]
    if problems:
        raise UserError(f"dataset '{path}' does not fit the model: {'; '.join(problems)}")
    keep = np.arange(len(data))
    if len(keep) > max_phrases:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), max_phrases, replace=False))
    move = lambda rolls: to_window(rolls, grid.lowest_pitch, info.lowest_pitch, info.n_pitches)
    return Reference(str(path), move(data.phrases[keep]), data.labels[keep].astype(np.float32), data.song[keep], len(data),
                     str(data.meta.get("label_rule", "")), move(data.onsets[keep]) if data.onsets is not None else None)


def to_window(rolls: np.ndarray, lowest: int, target_lowest: int, target_pitches: int) -> np.ndarray:
    """Rolls [..., P] whose row 0 is MIDI ``lowest`` -> the rows of a model's pitch window (cells outside it dropped)."""
    if lowest == target_lowest and rolls.shape[-1] == target_pitches:
        return rolls
    out = np.zeros((*rolls.shape[:-1], target_pitches), dtype=rolls.dtype)
    low, high = max(lowest, target_lowest), min(lowest + rolls.shape[-1], target_lowest + target_pitches)
    if high > low:
        out[..., low - target_lowest:high - target_lowest] = rolls[..., low - lowest:high - lowest]
    return out


# ------------------------------------------------------------------------------ generation


def draw_latents(generator, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """N(0, 1) latents for every latent input of the model: name -> float32 [n, *shape]."""
    return {s.name: rng.standard_normal((n, *s.shape), dtype=np.float32) for s in generator.latents}


def generate_rolls(generator, latents: dict[str, np.ndarray], moods: np.ndarray, batch: int,
                   threshold: float | None = None) -> np.ndarray:
    """Generate in batches and binarize at ``threshold`` (default: the model's), one pitch a step in each
    monophonic track, as the daemon decodes -> bool [N, T, B, S, P]."""
    if generator.info.runtime == "infill":
        return infill_rolls(generator, moods, batch)  # the same chains' numbers at every mood, as latents elsewhere
    threshold = generator.info.threshold if threshold is None else threshold
    n = len(moods)
    out = np.zeros((n, *generator.info.roll_shape), dtype=bool)
    for lo in range(0, n, batch):
        part = {name: value[lo:lo + batch] for name, value in latents.items()}
        probs = generator.generate(part, moods[lo:lo + batch])
        out[lo:lo + batch] = decode_voices(probs, binarize(probs, threshold), generator.info.tracks)
    return out


def infill_rolls(generator, moods: np.ndarray, batch: int, seed: int = 0) -> np.ndarray:
    """An infill model's phrases, made as the daemon starts a stream: bar after bar from nothing, each bar given
    the bars before (:func:`~livegan.generation.runtimes.sample_bar`) -> bool [N, T, B, S, P]."""
    from livegan.generation.infill import sample_bar
    from livegan.music.voices import roll_of

    info = generator.info
    rng = np.random.default_rng(seed)
    v, spb = len(info.tracks), info.steps_per_bar
    out = np.zeros((len(moods), *info.roll_shape), dtype=bool)
    for lo in range(0, len(moods), batch):
        mood = np.concatenate([moods[lo:lo + batch], np.ones((len(moods[lo:lo + batch]), 1), np.float32)], axis=1)
        pitch, onset = np.zeros((len(mood), v, 0), np.int16), np.zeros((len(mood), v, 0), bool)
        for bar in range(info.bars):
            p, o = sample_bar(generator, pitch, onset, bar, mood, rng)
            pitch, onset = np.concatenate([pitch, p], 2), np.concatenate([onset, o], 2)
        out[lo:lo + batch] = roll_of(pitch, info.n_pitches).reshape(len(mood), v, info.bars, spb, info.n_pitches)
    return out


# ------------------------------------------------------------------------------ per-phrase measures


def mode_agreement(is_major: np.ndarray, analysed: np.ndarray, valence: np.ndarray) -> dict[str, float]:
    """Share of phrases analysed major where valence > 0 and minor where valence < 0 (valence 0 left out)."""
    pos, neg = analysed & (valence > 0), analysed & (valence < 0)
    both = pos | neg
    match = np.where(valence > 0, is_major, ~is_major)
    return {"mode_match": _mean(match[both]), "major_when_positive": _mean(is_major[pos]),
            "minor_when_negative": _mean(~is_major[neg]), "phrases_analysed": int(both.sum())}


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if np.size(x) else math.nan


# ------------------------------------------------------------------------------ originality


class PhraseIndex:
    """An inverted index of the active cells of M phrases.

    A query's intersection with all M phrases, under each transposition, is one gather
    and one ``bincount`` over the posting lists of its (shifted) cells: cost grows with
    the active cells touched, not with M x cells, which suits sparse rolls.

    rolls : bool [M, T, B, S, P]; drums : bool [T], tracks that are never transposed.
    """

    def __init__(self, rolls: np.ndarray, drums: np.ndarray) -> None:
        self.shape = rolls.shape[1:]
        self.drums = np.asarray(drums, dtype=bool)
        flat = rolls.reshape(len(rolls), -1)
        self.sizes = flat.sum(axis=1)
        phrase, cell = np.nonzero(flat)
        order = np.argsort(cell, kind="stable")
        self.postings = phrase[order].astype(np.int64)
        self.pointers = np.searchsorted(cell[order], np.arange(flat.shape[1] + 1))

    def __len__(self) -> int:
        return len(self.sizes)

    def intersections(self, query: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """|shift(query) & phrase| for each shift (semitones) and phrase: int [len(shifts), M].

        query : bool [T, B, S, P]. Cells shifted out of the pitch window are dropped.
        """
        t, b, s, p = np.nonzero(query)
        k = np.repeat(np.arange(len(shifts)), len(p))
        moved = np.tile(p, len(shifts)) + np.repeat(shifts, len(p)) * np.tile(~self.drums[t], len(shifts))
        inside = (moved >= 0) & (moved < self.shape[-1])
        cells = np.ravel_multi_index((np.tile(t, len(shifts))[inside], np.tile(b, len(shifts))[inside],
                                      np.tile(s, len(shifts))[inside], moved[inside]), self.shape)
        starts, lengths = self.pointers[cells], self.pointers[cells + 1] - self.pointers[cells]
        hits = self.postings[_concat_ranges(starts, lengths)]
        return np.bincount(np.repeat(k[inside], lengths) * len(self) + hits,
                           minlength=len(shifts) * len(self)).reshape(len(shifts), len(self))

    def iou(self, query: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """IoU of the shifted query with every phrase: float [len(shifts), M] (0 where both are empty)."""
        inter = self.intersections(query, shifts)
        union = int(query.sum()) + self.sizes[None, :] - inter
        return np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0)


def _concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices starts[i] .. starts[i] + lengths[i] - 1 for every i, concatenated."""
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(int(lengths.sum()))


def nearest(index: PhraseIndex, queries: np.ndarray, max_shift: int,
            exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the best IoU over all indexed phrases and transpositions, and its mean IoU untransposed.

    queries : bool [Q, T, B, S, P]; exclude : bool [Q, M], pairs left out (itself, the same song).
    Returns (best float [Q], mean_untransposed float [Q]).
    """
    shifts = np.arange(-max_shift, max_shift + 1)
    best, mean = np.zeros(len(queries)), np.full(len(queries), np.nan)
    for i, query in enumerate(queries):
        iou = index.iou(query, shifts)
        if exclude is not None:
            iou[:, exclude[i]] = -1.0
        best[i] = max(0.0, float(iou.max()))
        kept = iou[max_shift][iou[max_shift] >= 0]
        mean[i] = kept.mean() if kept.size else np.nan
    return best, mean


def originality(generated: np.ndarray, reference: Reference | None, info: ModelInfo, options: EvalOptions,
                 rng: np.random.Generator) -> dict[str, Any]:
    """Copies of training phrases (exact, near) after transposition, and diversity between phrases."""
    drums = np.array([t.is_drum for t in info.tracks])
    own = PhraseIndex(generated, drums)
    best_own, mean_own = nearest(own, generated, options.max_shift, exclude=np.eye(len(generated), dtype=bool))
    result: dict[str, Any] = {"near_threshold": options.near, "max_shift": options.max_shift,
                              "diversity": _diversity(best_own, mean_own, options.near)}
    if reference is None:
        return result
    best, _ = nearest(PhraseIndex(reference.rolls, drums), generated, options.max_shift)
    result.update({"reference_phrases": len(reference.rolls), "reference_total": reference.total,
                   "exact_copy_rate": float(np.mean(best >= 1.0 - 1e-9)),
                   "near_copy_rate": float(np.mean(best >= options.near)), "nearest_iou": _spread(best)})
    result["training"] = _training_baseline(reference, drums, len(generated), options, rng)
    return result


def _training_baseline(reference: Reference, drums: np.ndarray, n: int, options: EvalOptions,
                       rng: np.random.Generator) -> dict[str, Any]:
    """The same measures for training phrases: against other songs' phrases, and among themselves."""
    pick = np.sort(rng.choice(len(reference.rolls), min(n, len(reference.rolls)), replace=False))
    sample = reference.rolls[pick]
    other_song = reference.song[pick][:, None] == reference.song[None, :]
    best, _ = nearest(PhraseIndex(reference.rolls, drums), sample, options.max_shift, exclude=other_song)
    best_own, mean_own = nearest(PhraseIndex(sample, drums), sample, options.max_shift,
                                 exclude=np.eye(len(sample), dtype=bool))
    return {"phrases": len(sample), "near_copy_rate_other_songs": float(np.mean(best >= options.near)),
            "exact_copy_rate_other_songs": float(np.mean(best >= 1.0 - 1e-9)), "nearest_iou_other_songs": _spread(best),
            "diversity": _diversity(best_own, mean_own, options.near)}


def _diversity(best_own: np.ndarray, mean_own: np.ndarray, near: float) -> dict[str, float]:
    return {"mean_pairwise_iou": float(np.nanmean(mean_own)) if np.isfinite(mean_own).any() else math.nan,
            "near_duplicate_rate": float(np.mean(best_own >= near)), "nearest_iou": _spread(best_own)}


def _spread(x: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(x)), "p95": float(np.percentile(x, 95)), "max": float(np.max(x))}


# ------------------------------------------------------------------------------ mood control


def mood_control(generator, presets: list[Mood], options: EvalOptions, rng: np.random.Generator) -> dict[str, Any]:
    """Presets and a valence x arousal grid, ``per_cell`` phrases each from the same latents."""
    info, k = generator.info, options.per_cell
    axis = np.linspace(-1.0, 1.0, options.grid)
    points = [(m.valence, m.arousal) for m in presets] + [(v, a) for a in axis for v in axis]
    moods = np.repeat(np.array(points, dtype=np.float32), k, axis=0)
    latents = {name: np.tile(value, (len(points), *[1] * (value.ndim - 1)))
               for name, value in draw_latents(generator, k, rng).items()}
    rolls = generate_rolls(generator, latents, moods, options.batch, options.threshold)
    density = phrase_densities(rolls, info)
    is_major, score, analysed = phrase_modes(rolls, info)
    cells = [_cell(slice(i * k, (i + 1) * k), density, is_major, analysed) for i in range(len(points))]
    on_grid = slice(len(presets) * k, None)
    g = options.grid
    return {
        "per_cell": k,
        "presets": [{"name": m.name, "valence": m.valence, "arousal": m.arousal, **c} for m, c in zip(presets, cells)],
        "grid": {"valence": axis.tolist(), "arousal": axis.tolist(),
                 "major_rate": [[c["major_rate"] for c in cells[len(presets) + r * g:len(presets) + (r + 1) * g]] for r in range(g)],
                 "note_density": [[c["note_density"] for c in cells[len(presets) + r * g:len(presets) + (r + 1) * g]] for r in range(g)]},
        **mode_agreement(is_major[on_grid], analysed[on_grid], moods[on_grid, 0]),
        "density_arousal_spearman": spearman(density[on_grid], moods[on_grid, 1]),
        "mode_score_valence_spearman": _spearman_where(score[on_grid], moods[on_grid, 0], analysed[on_grid]),
    }


def _cell(rows: slice, density: np.ndarray, is_major: np.ndarray, analysed: np.ndarray) -> dict[str, float]:
    return {"major_rate": _mean(is_major[rows][analysed[rows]]), "note_density": float(density[rows].mean())}


def _spearman_where(x: np.ndarray, y: np.ndarray, keep: np.ndarray) -> float:
    return spearman(x[keep], y[keep]) if keep.sum() > 1 else math.nan


def training_mood(reference: Reference, info: ModelInfo) -> dict[str, Any]:
    """The same mood measures on the training phrases against their labels: what the data teaches."""
    density = phrase_densities(reference.rolls, info)
    is_major, score, analysed = phrase_modes(reference.rolls, info)
    valence, arousal = reference.labels[:, 0], reference.labels[:, 1]
    return {**mode_agreement(is_major, analysed, valence), "density_arousal_spearman": spearman(density, arousal),
            "mode_score_valence_spearman": _spearman_where(score, valence, analysed), "label_rule": reference.label_rule}


# ------------------------------------------------------------------------------ part-writing of what the daemon plays


STREAM_VALENCES = (-0.8, 0.8)
STREAM_AROUSALS = (-0.8, -0.4, 0.0, 0.4, 0.8)


def stream_notes(piece) -> list[Note]:
    """The notes a render's model chose (each bar's score), on one grid from the piece's start."""
    spb = piece.info.steps_per_bar
    return [Note(n.start + i * spb, n.end + i * spb, n.pitch, n.track) for i, bar in enumerate(piece.bars) for n in bar.score]


def voice_leading(generator, options: EvalOptions, guide: int | None = None) -> dict[str, Any]:
    """The part-writing figures (:mod:`livegan.evaluation.voicing`) of ``options.streams`` seeds x 10 moods of
    ``options.stream_bars``-bar renders through the daemon's own path (``livegan render``), with ``guide``
    candidates (default: the daemon's for this model); and the mood each 4-bar phrase analyses as."""
    from livegan.generation.guide import default_candidates
    from livegan.offline.render import Segment, render_piece

    info = generator.info
    guide = default_candidates(info) if guide is None else guide
    grid = Grid(info.steps_per_beat, info.beats_per_bar, info.bars)
    counts, modes, densities = [], [], []
    started = time.perf_counter()
    for valence in STREAM_VALENCES:
        for arousal in STREAM_AROUSALS:
            mood = Mood(f"v{valence:+.1f} a{arousal:+.1f}", valence, arousal)
            for seed in range(options.streams):
                piece = render_piece(generator, [Segment(mood, options.stream_bars)], options.stream_bars,
                                     options.seed * 1000 + seed, guide=guide, threshold=options.threshold)
                notes = stream_notes(piece)
                counts.append(piece_figures(notes, len(info.tracks), options.stream_bars, grid))
                rolls = _phrase_rolls(notes, info, options.stream_bars)
                is_major, _, analysed = phrase_modes(rolls, info)
                modes += [(valence, bool(m)) for m, a in zip(is_major, analysed) if a]
                densities += [(arousal, float(d)) for d in phrase_densities(rolls, info)]
    major = np.array([m for v, m in modes if v > 0])
    minor = np.array([not m for v, m in modes if v < 0])
    arousal, density = np.array(densities).T
    return {"guide": guide, "streams": len(counts), "bars": options.stream_bars, "seconds": time.perf_counter() - started,
            **summarise(counts), "major_when_positive": _mean(major), "minor_when_negative": _mean(minor),
            "density_arousal_spearman": spearman(density, arousal)}


def _phrase_rolls(notes: list[Note], info: ModelInfo, bars: int) -> np.ndarray:
    """A piece's notes as 4-bar phrase rolls bool [bars // info.bars, T, B, S, P] (the model's window)."""
    roll = notes_to_roll([Note(n.start, n.end, n.pitch, n.track) for n in notes], len(info.tracks),
                         bars * info.steps_per_bar, info.lowest_pitch, info.n_pitches)
    phrases = bars // info.bars
    roll = roll[:, :phrases * info.bars * info.steps_per_bar]
    return roll.reshape(len(info.tracks), phrases, info.bars, info.steps_per_bar, info.n_pitches).transpose(1, 0, 2, 3, 4)


def data_voice_leading(reference: Reference, info: ModelInfo) -> dict[str, Any]:
    """The same figures for the data's windows (each a piece of ``info.bars`` bars)."""
    from livegan.music.voices import from_roll

    grid = Grid(info.steps_per_beat, info.beats_per_bar, info.bars)
    n, v = reference.rolls.shape[:2]
    flat = reference.rolls.reshape(n, v, -1, reference.rolls.shape[-1])
    if reference.onsets is not None:
        pitch, onset = from_roll(flat, reference.onsets.reshape(flat.shape))
    counts = [piece_figures(phrase_notes(pitch[i], onset[i], flat[i], info.lowest_pitch) if reference.onsets is not None
                            else phrase_notes(None, None, flat[i], info.lowest_pitch), v, info.bars, grid)
              for i in range(n)]
    return {"phrases": n, "voices_kept": reference.onsets is not None, **summarise(counts)}


# ------------------------------------------------------------------------------ the whole evaluation


def quality(rolls: np.ndarray, info: ModelInfo, rng: np.random.Generator | None = None) -> dict[str, Any]:
    """:func:`phrase_metrics` as lists; with ``rng``, also TD of track-shuffled phrases (MuseGAN's baseline)."""
    result = {name: value.tolist() for name, value in phrase_metrics(rolls, info).items()}
    if rng is not None and len(rolls) > 1:
        shuffled = np.stack([rolls[rng.permutation(len(rolls)), t] for t in range(rolls.shape[1])], axis=1)
        td = tonal_distances(shuffled, info.lowest_pitch, info.steps_per_beat)
        drums = np.array([t.is_drum for t in info.tracks])
        td[drums, :] = td[:, drums] = np.nan
        result["tonal_distance_shuffled"] = td.tolist()
    return result


def bar_timing(generator, candidates: tuple[int, ...] = (1, 8), repeats: int = 25, seed: int = 0) -> dict[str, float]:
    """Milliseconds of model time per bar of music on the daemon's path (median of ``repeats``).

    A phrase model makes a phrase per call, so a bar costs a call over its bars; a step
    model makes each bar with one call per step. ``candidates`` are the rows per call:
    1 without mood guidance, 8 with ``--guide 8``. An infill model makes each bar by a Gibbs chain of
    ``info.iterations`` calls.
    """
    rng = np.random.default_rng(seed)
    info = generator.info
    out: dict[str, float] = {}
    for n in candidates:
        latents = draw_latents(generator, n, rng)
        mood = np.zeros((n, 2), np.float32)
        times = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            if generator.info.runtime == "infill":  # a bar after the window's other bars, as the daemon makes it
                from livegan.generation.infill import sample_bar

                known = (info.bars - 1) * info.steps_per_bar
                sample_bar(generator, np.full((n, len(info.tracks), known), 10, np.int16),
                           np.zeros((n, len(info.tracks), known), bool), info.bars - 1,
                           np.zeros((n, 3), np.float32) + [0, 0, 1], rng)
                per_bar = time.perf_counter() - started
            elif generator.info.runtime == "step":
                generator.continue_bars(latents, mood, bars=1)
                per_bar = time.perf_counter() - started
            else:
                generator.generate(latents, mood)
                per_bar = (time.perf_counter() - started) / info.bars
            times.append(per_bar)
        out[f"candidates_{n}"] = float(np.median(times[1:]) * 1e3)  # the first call warms up
    return out


def evaluate(generator, presets: list[Mood], options: EvalOptions, reference: Reference | None = None,
             mood: bool = True, copies: bool = True, voices: bool = True) -> dict[str, Any]:
    """Everything ``livegan eval`` reports, as a JSON-ready dict (NaN where a measure does not apply)."""
    info = generator.info
    rng = np.random.default_rng(options.seed)
    started = time.perf_counter()
    if reference is not None:
        moods = reference.labels[rng.integers(0, len(reference.labels), options.phrases)]
    else:
        moods = rng.uniform(-1.0, 1.0, (options.phrases, 2)).astype(np.float32)
    rolls = generate_rolls(generator, draw_latents(generator, options.phrases, rng), moods, options.batch, options.threshold)
    result: dict[str, Any] = {
        "model": _model_summary(generator), "options": asdict(options),
        "generation_seconds": time.perf_counter() - started,
        "quality": {"generated": quality(rolls, info)},
    }
    if reference is not None:
        result["data"] = {"path": reference.path, "phrases": len(reference.rolls), "total": reference.total}
        result["quality"]["training"] = quality(reference.rolls, info, rng)
    if mood:
        result["mood"] = mood_control(generator, presets, options, rng)
        if reference is not None:
            result["mood"]["training"] = training_mood(reference, info)
    if copies:
        result["originality"] = originality(rolls, reference, info, options, rng)
    if voices:
        result["voices"] = {"played": voice_leading(generator, options)}
        if result["voices"]["played"]["guide"] > 1:
            result["voices"]["unguided"] = voice_leading(generator, options, guide=1)
        if reference is not None:
            result["voices"]["training"] = data_voice_leading(reference, info)
    result["ms_per_bar"] = bar_timing(generator, repeats=5 if info.runtime == "infill" else 25)
    result["seconds"] = time.perf_counter() - started
    return result


def _model_summary(generator) -> dict[str, Any]:
    info = generator.info
    return {"path": str(generator.path), "provider": generator.provider, "tracks": [t.name for t in info.tracks],
            "drums": [t.is_drum for t in info.tracks], "roll_shape": list(info.roll_shape),
            "lowest_pitch": info.lowest_pitch, "steps_per_beat": info.steps_per_beat, "threshold": info.threshold,
            "trained_on": info.trained_on, "architecture": info.architecture, "runtime": info.runtime,
            "megabytes": round(Path(generator.path).stat().st_size / 1e6, 2) if Path(generator.path).is_file() else None}


def jsonable(value: Any) -> Any:
    """Numbers rounded to 4 decimals, NaN as None, numpy types as Python ones, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else round(float(value), 4)
    return value
