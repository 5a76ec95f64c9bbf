"""The model report: MuseGAN's metrics on generated phrases against the training phrases, and mood checks.

``python -m livegan.training.report models/default.onnx --data runs/music21.npz -n 2000 --json report.json``

Generation goes through :class:`livegan.engine.OnnxGenerator`, the daemon's own
path; every metric comes from :func:`livegan.metrics.phrase_metrics` (and
:func:`~livegan.metrics.qualified_note_rate` for the 3-step threshold). Mood checks:

- valence: the share of phrases generated at positive valence (uniform in [0.3, 1])
  that analyse as major, and at negative valence ([-1, -0.3]) that analyse as minor;
- arousal: notes per bar at arousal -1, -0.5, 0, 0.5, 1, and the rank correlation
  between the arousal input and each phrase's notes per bar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from livegan import metrics
from livegan.contract import ModelInfo
from livegan.training.dataset import load_phrases

AROUSAL_LEVELS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def generate(engine: Any, moods: np.ndarray, seed: int, batch: int = 250) -> np.ndarray:
    """Boolean phrases [N, T, B, S, P] for moods [N, 2], from fresh N(0, 1) latents."""
    rng = np.random.default_rng(seed)
    out = []
    for first in range(0, len(moods), batch):
        mood = moods[first:first + batch].astype(np.float32)
        latents = {s.name: rng.standard_normal((len(mood), *s.shape)).astype(np.float32) for s in engine.latents}
        out.append(engine.generate(latents, mood) > engine.info.threshold)
    return np.concatenate(out)


def summary(rolls: np.ndarray, info: ModelInfo) -> dict[str, Any]:
    """The MuseGAN metrics of a set of phrases, as JSON-ready lists (per track; TD per pair)."""
    found = metrics.phrase_metrics(rolls, info)
    names = [t.name for t in info.tracks]
    td = found["tonal_distance"]
    pairs = {f"{names[i]}-{names[j]}": float(td[i, j]) for i in range(len(names)) for j in range(i + 1, len(names))}
    per_track = {k: [float(v) for v in found[k]] for k in
                 ("empty_bar_rate", "used_pitch_classes", "polyphony", "note_density", "qualified_note_rate_8th")}
    per_track["qualified_note_rate_3"] = [float(v) for v in metrics.qualified_note_rate(rolls, 3)]
    return {**per_track, "tonal_distance": pairs, "major_rate": float(found["major_rate"])}


def notes_per_bar(rolls: np.ndarray, info: ModelInfo) -> np.ndarray:
    """Note onsets per bar of each phrase, all tracks together: float [N]."""
    drums = [t.is_drum for t in info.tracks]
    return np.array([metrics.note_density(r[None], drums).sum() for r in rolls])


def mood_checks(engine: Any, n: int, seed: int) -> dict[str, Any]:
    """Valence -> mode and arousal -> density, on ``n`` phrases per check."""
    rng = np.random.default_rng(seed)
    info = engine.info
    arousal = rng.uniform(-1, 1, n)
    positive = generate(engine, np.stack([rng.uniform(0.3, 1, n), arousal], 1), seed + 1)
    negative = generate(engine, np.stack([rng.uniform(-1, -0.3, n), arousal], 1), seed + 2)
    levels = np.repeat(AROUSAL_LEVELS, max(1, n // len(AROUSAL_LEVELS)))
    valence = rng.uniform(-1, 1, len(levels))
    by_level = generate(engine, np.stack([valence, levels], 1), seed + 3)
    density = notes_per_bar(by_level, info)
    presets = {name: _preset(engine, point, n // 4, seed + 4) for name, point in info.moods.items()}
    return {
        "positive_valence_major": _major_share(positive, info),
        "negative_valence_minor": 1.0 - _major_share(negative, info),
        "notes_per_bar_by_arousal": {f"{a:+.1f}": float(density[levels == a].mean()) for a in AROUSAL_LEVELS},
        "arousal_density_spearman": _spearman(levels, density),
        "presets": presets,
    }


def _preset(engine: Any, point: tuple[float, float], n: int, seed: int) -> dict[str, float]:
    rolls = generate(engine, np.tile(np.float32(point), (max(n, 1), 1)), seed)
    return {"major": _major_share(rolls, engine.info),
            "notes_per_bar": float(notes_per_bar(rolls, engine.info).mean())}


def _major_share(rolls: np.ndarray, info: ModelInfo) -> float:
    """Share of phrases (among those with pitch content) whose melodic tracks analyse as major."""
    return float(metrics.phrase_metrics(rolls, info)["major_rate"]) if len(rolls) else float("nan")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = (np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float) for v in (x, y))
    return float(np.corrcoef(rx, ry)[0, 1])


def data_mood_reference(data: Any, info: ModelInfo) -> dict[str, Any]:
    """The same checks on the training phrases, by their labels (what the model could learn)."""
    labels = data.labels
    density = notes_per_bar(data.phrases, info)
    return {
        "positive_valence_major": _major_share(data.phrases[labels[:, 0] > 0.3], info),
        "negative_valence_minor": 1.0 - _major_share(data.phrases[labels[:, 0] < -0.3], info),
        "arousal_density_spearman": _spearman(labels[:, 1], density),
    }


def build_report(model: Path, data_path: Path, n: int, seed: int) -> dict[str, Any]:
    """Everything the model card reports, as one JSON-ready dict."""
    from livegan.engine import load_model

    engine = load_model(model)
    data = load_phrases(data_path)
    rng = np.random.default_rng(seed)
    moods = data.labels[rng.integers(0, len(data), n)]  # the training label distribution
    generated = generate(engine, moods, seed)
    return {
        "model": str(model), "dataset": str(data_path), "generated_phrases": n, "training_phrases": len(data),
        "tracks": [t.name for t in engine.info.tracks],
        "data": summary(data.phrases, engine.info), "generated": summary(generated, engine.info),
        "mood": mood_checks(engine, n, seed), "data_mood": data_mood_reference(data, engine.info),
    }


GAP_METRICS = ("empty_bar_rate", "used_pitch_classes", "qualified_note_rate_3", "polyphony", "note_density")


def gap(report: dict[str, Any]) -> dict[str, float]:
    """How far generated phrases are from the data: mean |gen - data| / (|data| + 0.1) per metric (0 = equal).

    ``total`` adds the metric gaps' mean, the tonal-distance gap and the mood error
    (1 - mean of the two valence checks); it ranks checkpoints of one run.
    """
    data, gen = report["data"], report["generated"]
    out = {k: float(np.nanmean([abs(g - d) / (abs(d) + 0.1) for d, g in zip(data[k], gen[k])])) for k in GAP_METRICS}
    out["tonal_distance"] = float(np.nanmean([abs(gen["tonal_distance"][p] - d) / (d + 0.1)
                                              for p, d in data["tonal_distance"].items()]))
    mood = report["mood"]
    out["mood_error"] = 1.0 - (mood["positive_valence_major"] + mood["negative_valence_minor"]) / 2
    out["total"] = float(np.mean([out[k] for k in GAP_METRICS])) + out["tonal_distance"] + out["mood_error"]
    return out


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables: per-track metrics (data / generated), tonal distances, mood checks."""
    tracks, data, gen = report["tracks"], report["data"], report["generated"]
    lines = ["| metric | " + " | ".join(tracks) + " |", "|---" * (len(tracks) + 1) + "|"]
    for key in ("empty_bar_rate", "used_pitch_classes", "qualified_note_rate_3", "qualified_note_rate_8th",
                "polyphony", "note_density"):
        cells = [f"{d:.3f} / {g:.3f}" for d, g in zip(data[key], gen[key])]
        lines.append(f"| {key} (data / generated) | " + " | ".join(cells) + " |")
    lines += ["", "| tonal distance | data | generated | difference |", "|---|---|---|---|"]
    for pair, value in data["tonal_distance"].items():
        g = gen["tonal_distance"][pair]
        lines.append(f"| {pair} | {value:.3f} | {g:.3f} | {g - value:+.3f} |")
    mood, ref = report["mood"], report["data_mood"]
    lines += ["", "| mood check | data (by label) | generated |", "|---|---|---|",
              f"| positive valence analyses as major | {ref['positive_valence_major']:.1%} | {mood['positive_valence_major']:.1%} |",
              f"| negative valence analyses as minor | {ref['negative_valence_minor']:.1%} | {mood['negative_valence_minor']:.1%} |",
              f"| Spearman(arousal, notes per bar) | {ref['arousal_density_spearman']:.2f} | {mood['arousal_density_spearman']:.2f} |",
              "", "notes per bar by arousal: " + ", ".join(f"{k}: {v:.1f}" for k, v in mood["notes_per_bar_by_arousal"].items())]
    if "gap" in report:
        lines += ["", "gap to the data (0 = equal): " + ", ".join(f"{k} {v:.3f}" for k, v in report["gap"].items())]
    return "\n".join(lines)


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path))
@click.option("-n", "count", default=2000, show_default=True, help="Generated phrases per set.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def main(model: Path, data_path: Path, count: int, seed: int, json_path: Path | None) -> None:
    """Print the report of MODEL against the training phrases of DATASET, and write it as JSON."""
    report = build_report(model, data_path, count, seed)
    report["gap"] = gap(report)
    if json_path:
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    click.echo(format_report(report))


if __name__ == "__main__":
    main()
