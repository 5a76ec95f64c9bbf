"""``livegan data build``: training datasets from the music21 corpus, LPD-5 or MIDI folders (needs the train extra)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

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
    from livegan.training.config import load_config
    from livegan.training.data.build import build_dataset

    grid = load_config(config_path).data
    dataset = build_dataset(list(sources), grid, labels=labels, limit=limit, progress=True)
    dataset.save(output)
    positive = float((dataset.labels[:, 0] > 0).mean())
    click.echo(f"wrote {output}: {len(dataset)} phrases of shape {list(dataset.phrases.shape[1:])} from "
               f"{len(dataset.songs)} pieces; {positive:.0%} at positive valence")
