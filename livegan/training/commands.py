"""The torch-side commands: ``livegan data build``, ``livegan train``, ``livegan export``.

Each command imports its heavy modules (music21, torch, onnx) inside its body,
so ``livegan --help`` stays light. Mistakes raise :class:`UserError` (one line, exit 2).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from livegan.errors import UserError

log = logging.getLogger(__name__)


@click.group(help="Build training datasets (music21 corpus, LPD-5, MIDI folders).")
def data() -> None:
    """Dataset commands."""


@data.command("build")
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Dataset file to write (.npz).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML config whose [data] table sets the grid (default: configs/musegan.toml).")
@click.option("--labels", default="auto", show_default=True,
              help="auto (EMOPIA Q1-Q4 file names, else computed), names, computed, or a CSV file,valence,arousal.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Read at most this many pieces per source.")
def build(sources: tuple[str, ...], output: Path, config_path: Path | None, labels: str, limit: int | None) -> None:
    """Cut SOURCES into labelled phrases and cache them in one .npz.

    A SOURCE is 'music21' (Bach chorales and string quartets of music21's corpus;
    'music21:chorales' or 'music21:quartets' for one), a folder of LPD-5 pypianoroll
    .npz files, or a folder of MIDI files (EMOPIA or your own).
    """
    from livegan.training.build import build_dataset
    from livegan.training.config import load_config

    grid = load_config(config_path).data
    dataset = build_dataset(list(sources), grid, labels=labels, limit=limit, progress=True)
    dataset.save(output)
    positive = float((dataset.labels[:, 0] > 0).mean())
    click.echo(f"wrote {output}: {len(dataset)} phrases of shape {list(dataset.phrases.shape[1:])} from "
               f"{len(dataset.songs)} pieces; {positive:.0%} at positive valence")


@click.command(help="Train a mood-conditioned generator (needs torch).")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path), help="Dataset from 'livegan data build'.")
@click.option("--arch", type=click.Choice(["musegan", "lstm", "vae"]), default=None,
              help="Architecture: musegan (GAN, phrase by phrase), lstm (step by step), vae (phrases, with an encoder). "
                   "Default: the config's arch, else musegan.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML config (default: configs/ARCH.toml); its arch must be --arch's when both are given.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder, e.g. runs/NAME.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Override [train] steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Override [train] batch_size.")
@click.option("--seed", type=int, default=None, help="Override [train] seed.")
@click.option("--mode-weight", type=click.FloatRange(min=0), default=None,
              help="Override [train] mode_weight (the auxiliary valence-to-mode loss).")
@click.option("--diversity-weight", type=click.FloatRange(min=0), default=None,
              help="Override [train] diversity_weight (the mode-seeking loss that keeps phrases apart).")
@click.option("--aux-weight", type=click.FloatRange(min=0), default=None,
              help="Override [train] aux_weight (the critic's auxiliary mood head, AC-GAN).")
@click.option("--threads", type=click.IntRange(min=0), default=None,
              help="Override [train] threads (1 is fastest on a CPU that other programs share).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--minutes", type=click.FloatRange(min=0), default=0.0, help="Stop (and checkpoint) after this many minutes; 0 = no limit.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(data_path: Path, arch: str | None, config_path: Path | None, out: Path, resume: bool, steps: int | None,
          batch_size: int | None, seed: int | None, mode_weight: float | None,
          diversity_weight: float | None, aux_weight: float | None, threads: int | None, device: str, minutes: float,
          no_progress: bool) -> None:
    """Train MuseGAN (WGAN-GP), the LSTM or the VAE; under torchrun, every process trains and rank 0 writes."""
    from livegan.training.config import load_config
    from livegan.training.train import train as run_training

    if (out / "last.pt").exists() and not resume:
        raise UserError(f"run folder '{out}' already holds last.pt: add --resume to continue it, or pick a new --out")
    config = load_config(config_path, arch=arch).replace_train(steps=steps, batch_size=batch_size, seed=seed, threads=threads,
                                                   mode_weight=mode_weight, diversity_weight=diversity_weight,
                                                   aux_weight=aux_weight)
    last = run_training(data_path, config, out, resume=resume, device=device, progress=not no_progress, minutes=minutes)
    click.echo(f"checkpoint: {last}")


@click.command(help="Export a checkpoint to an ONNX model the daemon loads.")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="ONNX file to write, e.g. models/NAME.onnx.")
@click.option("--trained-on", default=None, help="Describe the training data in the metadata (default: from the run).")
@click.option("--threshold", type=click.FloatRange(0.01, 0.99), default=None,
              help="Note threshold the daemon plays the model at (default: the run's, 0.5).")
@click.option("--match-density", "match_density", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Set the threshold so that generated phrases sound as many cells as this dataset's (a VAE's decoder needs it).")
def export(checkpoint: Path, output: Path, trained_on: str | None, threshold: float | None,
           match_density: Path | None) -> None:
    """Export CHECKPOINT, check torch against ONNX Runtime (1e-4), then load it as the daemon does.

    A VAE checkpoint also writes its encoder beside the model, as NAME.encoder.onnx.
    """
    from livegan.training.export import export_onnx

    if threshold is not None and match_density is not None:
        raise UserError("pass either --threshold or --match-density, not both")
    info = export_onnx(checkpoint, output, trained_on=trained_on, threshold=threshold, match_density=match_density)
    if info.runtime == "step":
        shape = (f"runtime step ({info.architecture}): {len(info.tracks)} tracks x {info.n_pitches} pitches a step, "
                 f"{info.steps_per_bar} steps a bar, state {info.latent_size}")
    else:
        shape = (f"runtime phrase ({info.architecture}): {len(info.tracks)} tracks x {info.bars} bars x "
                 f"{info.steps_per_bar} steps x {info.n_pitches} pitches, latent {info.latent_size}")
    encoder = f"; encoder {output.with_name(info.encoder)}" if info.encoder else ""
    click.echo(f"wrote {output}: {shape}{encoder}; threshold {info.threshold:.3f}; checked against torch and the engine")
