"""The :class:`~livegan.model.contract.ModelInfo` a trained generator declares, from its dataset and config."""

from __future__ import annotations

import os
import platform
from dataclasses import replace
from typing import Any

import torch

from livegan.model.contract import ModelInfo
from livegan.music.dataset import PhraseSet
from livegan.training.config import Config
from livegan.training.loop.samples import PRESET_MOODS

# arch -> (architecture, runtime) as the contract's metadata names them
ARCHITECTURES: dict[str, tuple[str, str]] = {
    "musegan": ("musegan-hybrid-mood", "phrase"),
    "lstm": ("lstm-step-mood", "step"),
    "vae": ("vae-conv-mood", "phrase"),
    "coconet": ("coconet-infill-mood", "infill"),
}
STEP_TEMPERATURE = 1.0  # a step model is trained to give each note's probability: sample it as it is


def make_info(data: PhraseSet, config: Config, latent_size: int) -> ModelInfo:
    """Contract metadata: the dataset's tracks and grid, the architecture, its runtime and latent size, the mood presets.

    ``latent_size`` is z's length for a phrase model and the recurrent state's for a
    step model. A VAE's ``encoder`` file name is set at export, when it is known.
    """
    grid = data.grid
    architecture, runtime = ARCHITECTURES[config.arch]
    sources = ", ".join(data.meta.get("sources", [])) or "unknown"
    tracks = data.tracks
    if grid.monophonic:  # datasets built before tracks said so
        tracks = tuple(replace(t, monophonic=True) for t in tracks)
    return ModelInfo(
        tracks=tracks, lowest_pitch=grid.lowest_pitch, n_pitches=grid.n_pitches,
        steps_per_beat=grid.steps_per_beat, beats_per_bar=grid.beats_per_bar, bars=grid.bars,
        latent_size=latent_size, threshold=0.5, moods=dict(PRESET_MOODS),
        trained_on=f"{sources} ({len(data)} phrases from {len(data.songs)} pieces)",
        architecture=architecture, runtime=runtime, temperature=STEP_TEMPERATURE,
        extra={"label_rule": data.meta.get("label_rule", ""), "phrases": len(data),
               "config": config.to_dict()},
    )


def hardware(device: torch.device, world: int) -> str:
    """A one-line description of where training ran."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{_cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    return f"{world} x {name}" if world > 1 else name


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + " CPU"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} CPU"


def with_facts(info: dict[str, Any], **facts: Any) -> dict[str, Any]:
    """A ModelInfo dict with training facts merged into ``extra``."""
    return {**info, "extra": {**info.get("extra", {}), **facts}}
