"""Training configuration: the phrase grid, network sizes and training settings.

Read from a TOML file (``configs/musegan.toml``) with three tables, ``[data]``,
``[model]`` and ``[train]``. Every field has a default; unknown fields and values
out of range raise :class:`~livegan.errors.UserError` naming the field, the
allowed range and the value received. No torch here.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from livegan.errors import UserError

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "musegan.toml"


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

    def __post_init__(self) -> None:
        _check_range("data.bars", self.bars, 1, 64)
        _check_range("data.beats_per_bar", self.beats_per_bar, 1, 16)
        _check_range("data.steps_per_beat", self.steps_per_beat, 1, 96)
        _check_range("data.lowest_pitch", self.lowest_pitch, 0, 127)
        _check_range("data.n_pitches", self.n_pitches, 12, 128 - self.lowest_pitch)
        if self.n_pitches % 12:
            raise UserError(f"config data.n_pitches must be a multiple of 12, got {self.n_pitches}")
        _check_range("data.hop_bars", self.hop_bars, 1, 64)
        _check_range("data.min_notes", self.min_notes, 0, 100000)
        _check_range("data.max_empty_bars", self.max_empty_bars, 0, self.bars)

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar

    @property
    def phrase_steps(self) -> int:
        """Time steps in one phrase (all bars)."""
        return self.steps_per_bar * self.bars


@dataclass(frozen=True)
class ModelConfig:
    """Latent sizes and channel widths of the generator and discriminator."""

    z_shared: int = 32
    z_temporal: int = 32
    z_private: int = 16
    z_private_temporal: int = 16
    temporal_hidden: int = 128
    g_trunk: tuple[int, ...] = (256, 128, 64)
    g_branch: int = 32
    d_track: int = 16
    d_chroma: int = 32
    d_merged: tuple[int, ...] = (64, 128, 128, 256)

    def __post_init__(self) -> None:
        for f in ("z_shared", "z_temporal", "z_private", "z_private_temporal", "temporal_hidden",
                  "g_branch", "d_track", "d_chroma"):
            _check_range(f"model.{f}", getattr(self, f), 1, 4096)
        _check_widths("model.g_trunk", self.g_trunk, 3)
        _check_widths("model.d_merged", self.d_merged, 4)

    def latent_size(self, n_tracks: int) -> int:
        """Length of the generator's single input vector ``z`` for ``n_tracks`` tracks."""
        return self.z_shared + self.z_temporal + n_tracks * (self.z_private + self.z_private_temporal)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (WGAN-GP with Adam, as the MuseGAN papers)."""

    steps: int = 16000
    batch_size: int = 16
    d_steps: int = 1
    lr_g: float = 0.0002
    lr_d: float = 0.0004
    betas: tuple[float, float] = (0.5, 0.9)
    gp_weight: float = 10.0
    mode_weight: float = 0.0
    diversity_weight: float = 0.0
    transpose: int = 5
    seed: int = 0
    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 500
    threads: int = 2

    def __post_init__(self) -> None:
        _check_range("train.steps", self.steps, 1, 10**8)
        _check_range("train.batch_size", self.batch_size, 1, 65536)
        _check_range("train.d_steps", self.d_steps, 1, 100)
        _check_range("train.transpose", self.transpose, 0, 12)
        for f in ("log_every", "sample_every", "checkpoint_every"):
            _check_range(f"train.{f}", getattr(self, f), 1, 10**8)
        _check_range("train.threads", self.threads, 0, 1024)
        for f in ("lr_g", "lr_d", "gp_weight", "mode_weight", "diversity_weight"):
            if not isinstance(getattr(self, f), (int, float)) or getattr(self, f) < 0:
                raise UserError(f"config train.{f} must be a number >= 0, got {getattr(self, f)!r}")
        if len(self.betas) != 2 or not all(0 <= float(b) < 1 for b in self.betas):
            raise UserError(f"config train.betas must be two numbers in [0, 1), got {list(self.betas)!r}")


@dataclass(frozen=True)
class Config:
    """The whole configuration; :meth:`to_dict` is what a run saves beside its checkpoints."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        unknown = set(data) - {"data", "model", "train"}
        if unknown:
            raise UserError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}; use [data], [model], [train]")
        return cls(
            data=_section(DataConfig, data.get("data", {}), source, "data"),
            model=_section(ModelConfig, data.get("model", {}), source, "model"),
            train=_section(TrainConfig, data.get("train", {}), source, "train"),
        )

    def replace_train(self, **changes: Any) -> Config:
        """A copy with some ``[train]`` fields changed (command-line overrides)."""
        train = {**asdict(self.train), **{k: v for k, v in changes.items() if v is not None}}
        return Config(self.data, self.model, _section(TrainConfig, train, "command line", "train"))


def load_config(path: str | Path | None = None) -> Config:
    """Read a TOML config; ``None`` reads the default ``configs/musegan.toml`` (or built-in defaults)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        if path == DEFAULT_CONFIG:
            return Config()
        raise UserError(f"config file '{path}' does not exist: pass --config with a TOML file like configs/musegan.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"config file '{path}' is not valid TOML ({exc})") from None
    return Config.from_dict(data, source=f"config file '{path}'")


def _section(kind: type, values: dict[str, Any], source: str, table: str) -> Any:
    names = {f.name for f in fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise UserError(f"{source}: unknown field(s) {', '.join(f'{table}.{u}' for u in sorted(unknown))}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return kind(**fixed)
    except TypeError as exc:
        raise UserError(f"{source}: [{table}] {exc}") from None


def _check_range(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UserError(f"config {name} must be an integer in [{low}, {high}], got {value!r}")


def _check_widths(name: str, value: tuple[int, ...], length: int) -> None:
    if len(value) != length:
        raise UserError(f"config {name} must list {length} channel widths, got {list(value)!r}")
    for v in value:
        _check_range(name, v, 1, 4096)
