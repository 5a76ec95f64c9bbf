"""``livegan train``: train a mood-conditioned generator (needs torch); the loop is :mod:`livegan.training.loop.train`."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from livegan.errors import UserError

log = logging.getLogger(__name__)


@click.command(help="Train a mood-conditioned generator (needs torch).")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path), help="Dataset from 'livegan data build'.")
@click.option("--arch", type=click.Choice(["musegan", "lstm", "vae", "coconet"]), default=None,
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
    from livegan.training.loop.train import train as run_training

    if (out / "last.pt").exists() and not resume:
        raise UserError(f"run folder '{out}' already holds last.pt: add --resume to continue it, or pick a new --out")
    config = load_config(config_path, arch=arch).replace_train(steps=steps, batch_size=batch_size, seed=seed, threads=threads,
                                                   mode_weight=mode_weight, diversity_weight=diversity_weight,
                                                   aux_weight=aux_weight)
    last = run_training(data_path, config, out, resume=resume, device=device, progress=not no_progress, minutes=minutes)
    click.echo(f"checkpoint: {last}")
