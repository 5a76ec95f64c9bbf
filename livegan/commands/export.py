"""``livegan export``: a checkpoint -> an ONNX model the daemon loads (:mod:`livegan.export.onnx`)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from livegan.errors import UserError

log = logging.getLogger(__name__)


@click.command(help="Export a checkpoint to an ONNX model the daemon loads.")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="ONNX file to write, e.g. models/NAME.onnx.")
@click.option("--trained-on", default=None, help="Describe the training data in the metadata (default: from the run).")
@click.option("--threshold", type=click.FloatRange(0.01, 0.99), default=None,
              help="Note threshold the daemon plays the model at (default: the run's, 0.5).")
@click.option("--match-density", "match_density", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Set the threshold so that generated phrases sound as many cells as this dataset's (a VAE's decoder needs it).")
@click.option("--iterations", type=click.IntRange(1, 1000), default=None,
              help="An infill model's Gibbs passes per bar (default: 24).")
@click.option("--temperature", type=click.FloatRange(0.05, 10), default=None,
              help="A step or infill model's sampling temperature (default: 1).")
@click.option("--mood-strength", type=click.FloatRange(0, 10), default=None,
              help="An infill model's classifier-free guidance of the mood (default 1: the model's conditional answer; "
                   "above 1 pushes it away from the unconditional one, at twice the cost per pass).")
def export(checkpoint: Path, output: Path, trained_on: str | None, threshold: float | None,
           match_density: Path | None, iterations: int | None, temperature: float | None,
           mood_strength: float | None) -> None:
    """Export CHECKPOINT, check torch against ONNX Runtime (1e-4), then load it as the daemon does.

    A VAE checkpoint also writes its encoder beside the model, as NAME.encoder.onnx.
    """
    from livegan.export.onnx import export_onnx

    if threshold is not None and match_density is not None:
        raise UserError("pass either --threshold or --match-density, not both")
    sampling = {k: v for k, v in (("iterations", iterations), ("temperature", temperature),
                                  ("mood_strength", mood_strength)) if v is not None}
    info = export_onnx(checkpoint, output, trained_on=trained_on, threshold=threshold, match_density=match_density,
                       sampling=sampling)
    if info.runtime == "step":
        shape = (f"runtime step ({info.architecture}): {len(info.tracks)} tracks x {info.n_pitches} pitches a step, "
                 f"{info.steps_per_bar} steps a bar, state {info.latent_size}")
    elif info.runtime == "infill":
        shape = (f"runtime infill ({info.architecture}): {len(info.tracks)} monophonic voices x {info.n_pitches} pitches, "
                 f"a window of {info.bars} bars x {info.steps_per_bar} steps, {info.iterations} Gibbs passes a bar")
    else:
        shape = (f"runtime phrase ({info.architecture}): {len(info.tracks)} tracks x {info.bars} bars x "
                 f"{info.steps_per_bar} steps x {info.n_pitches} pitches, latent {info.latent_size}")
    encoder = f"; encoder {output.with_name(info.encoder)}" if info.encoder else ""
    threshold_text = f"; threshold {info.threshold:.3f}" if info.runtime == "phrase" else f"; temperature {info.temperature:g}"
    click.echo(f"wrote {output}: {shape}{encoder}{threshold_text}; checked against torch and the engine")
