"""``livegan eval``: measure a model (MuseGAN metrics vs the training data, mood control, originality).

The measuring lives in :mod:`livegan.evaluation.evaluate`, the tables and plots in
:mod:`livegan.evaluation.report` (matplotlib, imported only when plots are asked for); this
module reads the options, loads the models and writes the files.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from livegan.evaluation.report import format_comparison, format_report, write_plots

log = logging.getLogger(__name__)


@click.command()
@click.option("--model", "models", type=click.Path(path_type=Path), multiple=True,
              help="ONNX model (default: the shipped one). Repeat it to compare models side by side in one table.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="Training dataset (.npz from 'livegan data build') to compare with and to look for copies in.")
@click.option("--phrases", type=click.IntRange(2), default=None,
              help="Phrases generated for the metrics (default: 1000; 200 for an infill model, whose bars are Gibbs chains).")
@click.option("--per-cell", type=click.IntRange(2), default=None,
              help="Phrases per mood preset and per valence/arousal grid cell (default: 40; 10 for an infill model).")
@click.option("--grid", type=click.IntRange(2, 21), default=5, show_default=True, help="Grid points per axis, from -1 to +1.")
@click.option("--batch", type=click.IntRange(1), default=250, show_default=True, help="Phrases per inference call.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threshold", type=click.FloatRange(0.01, 0.99), default=None, help="Note threshold (default: the model's).")
@click.option("--near", type=click.FloatRange(0.5, 1.0), default=0.9, show_default=True, help="IoU that makes a near copy.")
@click.option("--max-shift", type=click.IntRange(0, 24), default=12, show_default=True, help="Transpositions tried, semitones each way.")
@click.option("--max-reference", type=click.IntRange(10), default=20000, show_default=True,
              help="Training phrases used (a seeded random subsample above this).")
@click.option("--moods", "moods_file", type=click.Path(path_type=Path), default=None, help="Mood presets TOML (default: the shipped one).")
@click.option("--streams", type=click.IntRange(1), default=3, show_default=True,
              help="Renders per mood (10 moods) for the part-writing figures of what the daemon plays.")
@click.option("--stream-bars", type=click.IntRange(4), default=32, show_default=True, help="Bars per render.")
@click.option("--skip", type=click.Choice(["mood", "originality", "voices"]), multiple=True, help="Leave a part out (repeatable).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write the results as JSON here ('-': stdout).")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write metrics.png and mood.png to this folder (needs matplotlib).")
def eval_command(models: tuple[Path, ...], data_path: Path | None, phrases: int | None, per_cell: int | None, grid: int, batch: int,
                 device: str, seed: int, threshold: float | None, near: float, max_shift: int, max_reference: int,
                 moods_file: Path | None, streams: int, stream_bars: int, skip: tuple[str, ...], json_path: Path | None, plots_dir: Path | None) -> None:
    """Measure a model: MuseGAN's metrics next to the training data's, mood control, originality."""
    from livegan.evaluation.evaluate import (
        EvalOptions,
        evaluate,
        jsonable,
        load_reference,
    )
    from livegan.model.engine import load_model
    from livegan.model.locate import model_path
    from livegan.mood.presets import load_moods

    presets = load_moods(moods_file)
    generators = [load_model(path, device=device) for path in (models or (model_path(),))]  # all load first
    results = []
    for generator in generators:
        infill = generator.info.runtime == "infill"
        options = EvalOptions(phrases=phrases or (200 if infill else 1000), batch=batch, seed=seed, threshold=threshold,
                              per_cell=per_cell or (10 if infill else 40), grid=grid, near=near, max_shift=max_shift,
                              max_reference=max_reference, streams=streams, stream_bars=stream_bars)
        reference = load_reference(data_path, generator.info, max_reference, seed) if data_path else None
        result = jsonable(evaluate(generator, presets, options, reference, mood="mood" not in skip,
                                   copies="originality" not in skip, voices="voices" not in skip))
        result["command"] = "livegan " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["eval"] else None
        results.append(result)
        if str(json_path) != "-":
            click.echo(format_report(result) + ("\n" if len(generators) > 1 else ""))
    if len(results) > 1 and str(json_path) != "-":
        click.echo(format_comparison(results))
    if json_path is not None:
        text = json.dumps(results[0] if len(results) == 1 else {"models": results}, indent=2, sort_keys=True)
        click.echo(text) if str(json_path) == "-" else _write(json_path, text)
    if plots_dir is not None:
        for result in results:
            folder = plots_dir if len(results) == 1 else plots_dir / Path(result["model"]["path"]).stem
            for path in write_plots(result, folder):
                click.echo(f"wrote {path}")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------ the table


# ------------------------------------------------------------------------------ plots
