"""Training configuration: the architecture, the phrase grid, network sizes and training settings.

Read from a TOML file (``configs/musegan.toml``, ``configs/lstm.toml``,
``configs/vae.toml``): a top-level ``arch`` (``musegan``, the default, ``lstm`` or
``vae``, ``coconet``) and three tables, ``[data]``, ``[model]`` and ``[train]``. The ``[model]``
table's fields depend on ``arch`` (:class:`ModelConfig`, :class:`LstmConfig`,
:class:`VaeConfig`); ``[data]`` and ``[train]`` are shared, and the GAN-only train
fields (``lr_d``, ``gp_weight``, ``d_steps``, ``mode_weight``, ``diversity_weight``, ``aux_weight``)
are ignored by the other architectures. Every field has a default; unknown fields
and values out of range raise :class:`~livegan.errors.UserError` naming the field,
the allowed range and the value received. No torch here.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from livegan.errors import UserError
from livegan.music.dataset import DataConfig, check_range
from livegan.shipped import config_file

DEFAULT_CONFIG = config_file("musegan.toml")
ARCHS = ("musegan", "lstm", "vae", "coconet")


@dataclass(frozen=True)
class ModelConfig:
    """MuseGAN (``arch = "musegan"``): latent sizes and channel widths of the generator and discriminator."""

    arch: ClassVar[str] = "musegan"

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
            check_range(f"model.{f}", getattr(self, f), 1, 4096)
        _check_widths("model.g_trunk", self.g_trunk, 3)
        _check_widths("model.d_merged", self.d_merged, 4)

    def latent_size(self, n_tracks: int) -> int:
        """Length of the generator's single input vector ``z`` for ``n_tracks`` tracks."""
        return self.z_shared + self.z_temporal + n_tracks * (self.z_private + self.z_private_temporal)


@dataclass(frozen=True)
class LstmConfig:
    """The autoregressive LSTM (``arch = "lstm"``): one time step of the roll per call."""

    arch: ClassVar[str] = "lstm"
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1

    def __post_init__(self) -> None:
        check_range("model.hidden", self.hidden, 1, 4096)
        check_range("model.layers", self.layers, 1, 8)
        _check_number("model.dropout", self.dropout, 0.0, 1.0, high_open=True)

    def latent_size(self, n_tracks: int) -> int:
        """Length of the recurrent state: every layer's h and c, flattened (``n_tracks`` does not matter)."""
        return 2 * self.layers * self.hidden


@dataclass(frozen=True)
class VaeConfig:
    """The conditional VAE (``arch = "vae"``): an encoder and a decoder of whole phrases, and its KL term."""

    arch: ClassVar[str] = "vae"
    latent: int = 64
    enc_track: int = 32
    enc_merged: tuple[int, ...] = (128, 256)
    dec_trunk: tuple[int, ...] = (256, 128, 64)
    dec_branch: int = 32
    kl_weight: float = 1.0
    kl_warmup: int = 2000
    free_bits: float = 0.5

    def __post_init__(self) -> None:
        for f in ("latent", "enc_track", "dec_branch"):
            check_range(f"model.{f}", getattr(self, f), 1, 4096)
        _check_widths("model.enc_merged", self.enc_merged, 2)
        _check_widths("model.dec_trunk", self.dec_trunk, 3)
        _check_number("model.kl_weight", self.kl_weight, 0.0, 100.0)
        check_range("model.kl_warmup", self.kl_warmup, 0, 10**8)
        _check_number("model.free_bits", self.free_bits, 0.0, 100.0)

    def latent_size(self, n_tracks: int) -> int:
        """Length of the decoder's input ``z`` (``n_tracks`` does not matter)."""
        return self.latent


@dataclass(frozen=True)
class CoconetConfig:
    """The infilling convolutional model of voices (``arch = "coconet"``): its width, depth and mood dropout."""

    arch: ClassVar[str] = "coconet"
    channels: int = 48
    blocks: int = 8              # residual blocks of two dilated 3x3 convolutions each
    mood_dropout: float = 0.15   # share of training phrases shown without their mood (known = 0)

    def __post_init__(self) -> None:
        check_range("model.channels", self.channels, 1, 1024)
        check_range("model.blocks", self.blocks, 1, 64)
        _check_number("model.mood_dropout", self.mood_dropout, 0.0, 1.0, high_open=True)

    def latent_size(self, n_tracks: int) -> int:
        """An infilling model has no latent: its randomness is the sampler's (1 fills the contract's field)."""
        return 1


MODEL_CONFIGS: dict[str, type] = {"musegan": ModelConfig, "lstm": LstmConfig, "vae": VaeConfig, "coconet": CoconetConfig}
# [train] defaults that differ from MuseGAN's, used when a config file leaves them out.
ARCH_TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "lstm": {"lr_g": 0.001, "betas": (0.9, 0.999), "grad_clip": 1.0},
    "vae": {"lr_g": 0.001, "betas": (0.9, 0.999)},
    "coconet": {"lr_g": 0.001, "betas": (0.9, 0.999), "grad_clip": 1.0},
}
AnyModelConfig = ModelConfig | LstmConfig | VaeConfig | CoconetConfig


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings: Adam for every architecture, WGAN-GP for MuseGAN (as its papers).

    ``lr_g`` is the generator's learning rate (the LSTM's or the VAE's: the model's);
    ``d_steps``, ``lr_d``, ``gp_weight``, ``mode_weight``, ``diversity_weight`` and
    ``aux_weight`` (the critic's auxiliary mood head, AC-GAN) concern MuseGAN's critic and are ignored by the other architectures;
    ``grad_clip`` (the largest gradient norm, 0 = no clipping) is the LSTM's and the
    VAE's, and MuseGAN ignores it.
    """

    steps: int = 16000
    batch_size: int = 16
    d_steps: int = 1
    lr_g: float = 0.0002
    lr_d: float = 0.0004
    betas: tuple[float, float] = (0.5, 0.9)
    gp_weight: float = 10.0
    mode_weight: float = 0.0
    diversity_weight: float = 0.0
    aux_weight: float = 0.0
    grad_clip: float = 0.0
    transpose: int = 5
    seed: int = 0
    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 500
    threads: int = 2

    def __post_init__(self) -> None:
        check_range("train.steps", self.steps, 1, 10**8)
        check_range("train.batch_size", self.batch_size, 1, 65536)
        check_range("train.d_steps", self.d_steps, 1, 100)
        check_range("train.transpose", self.transpose, 0, 12)
        for f in ("log_every", "sample_every", "checkpoint_every"):
            check_range(f"train.{f}", getattr(self, f), 1, 10**8)
        check_range("train.threads", self.threads, 0, 1024)
        for f in ("lr_g", "lr_d", "gp_weight", "mode_weight", "diversity_weight", "aux_weight", "grad_clip"):
            if not isinstance(getattr(self, f), (int, float)) or getattr(self, f) < 0:
                raise UserError(f"config train.{f} must be a number >= 0, got {getattr(self, f)!r}")
        if len(self.betas) != 2 or not all(0 <= float(b) < 1 for b in self.betas):
            raise UserError(f"config train.betas must be two numbers in [0, 1), got {list(self.betas)!r}")


@dataclass(frozen=True)
class Config:
    """The whole configuration; :meth:`to_dict` is what a run saves beside its checkpoints.

    The architecture is the type of ``model`` (:attr:`arch`); :meth:`to_dict` records it
    under ``arch``, and a dict without it (configs and checkpoints from before the
    LSTM and the VAE) is a MuseGAN one.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: AnyModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def arch(self) -> str:
        """``musegan``, ``lstm``, ``vae`` or ``coconet``."""
        return self.model.arch

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        unknown = set(data) - {"arch", "data", "model", "train"}
        if unknown:
            raise UserError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}; use arch, [data], [model], [train]")
        arch = data.get("arch", "musegan")
        if arch not in ARCHS:
            raise UserError(f"{source}: arch must be one of {', '.join(ARCHS)}, got {arch!r}")
        train = {**ARCH_TRAIN_DEFAULTS.get(arch, {}), **data.get("train", {})}
        return cls(
            data=_section(DataConfig, data.get("data", {}), source, "data"),
            model=_section(MODEL_CONFIGS[arch], data.get("model", {}), source, "model"),
            train=_section(TrainConfig, train, source, "train"),
        )

    def replace_train(self, **changes: Any) -> Config:
        """A copy with some ``[train]`` fields changed (command-line overrides)."""
        train = {**asdict(self.train), **{k: v for k, v in changes.items() if v is not None}}
        return Config(self.data, self.model, _section(TrainConfig, train, "command line", "train"))


def arch_config_path(arch: str) -> Path:
    """The shipped config of an architecture: ``configs/ARCH.toml``."""
    if arch not in ARCHS:
        raise UserError(f"unknown arch '{arch}': use one of {', '.join(ARCHS)}")
    return config_file(f"{arch}.toml")


def load_config(path: str | Path | None = None, arch: str | None = None) -> Config:
    """Read a TOML config; a config whose ``arch`` is not ``arch`` (when given) is a UserError.

    ``path=None`` reads the shipped ``configs/ARCH.toml`` (``arch`` defaults to
    musegan), or that architecture's built-in defaults when the file is not there.
    """
    shipped = arch_config_path(arch or "musegan")
    path = Path(path) if path is not None else shipped
    if not path.is_file():
        if path == shipped:
            return Config.from_dict({"arch": arch or "musegan"}, source="built-in defaults")
        raise UserError(f"config file '{path}' does not exist: pass --config with a TOML file like configs/musegan.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"config file '{path}' is not valid TOML ({exc})") from None
    config = Config.from_dict(data, source=f"config file '{path}'")
    if arch is not None and config.arch != arch:
        raise UserError(f"config file '{path}' is for arch '{config.arch}', not '{arch}': "
                        f"drop --arch, or pass a config with arch = \"{arch}\" (e.g. {arch_config_path(arch).name})")
    return config


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
    except UserError as exc:  # a value out of range: say which file it is in
        raise UserError(f"{source}: {str(exc).removeprefix('config ')}") from None


def _check_number(name: str, value: Any, low: float, high: float, high_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
    if not ok or (high_open and value == high):
        raise UserError(f"config {name} must be a number in [{low}, {high}{')' if high_open else ']'}, got {value!r}")


def _check_widths(name: str, value: tuple[int, ...], length: int) -> None:
    if len(value) != length:
        raise UserError(f"config {name} must list {length} channel widths, got {list(value)!r}")
    for v in value:
        check_range(name, v, 1, 4096)
