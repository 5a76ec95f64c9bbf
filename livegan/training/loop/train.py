"""Training of any architecture (MuseGAN, LSTM, VAE), in one process or under torchrun.

One loop for all: progress bar, periodic checkpoints and sample piano rolls,
resume, a time limit and fixed seeds; the architecture's :class:`Trainer`
(:mod:`livegan.training.loop.trainers`) builds the networks and does each update.
A run folder holds ``config.json`` (the resolved config, with its ``arch``),
``last.pt`` and ``checkpoints/step_NNNNNNN.pt`` (see :mod:`checkpoint`), and
``samples/`` (piano rolls at the named moods). ``resume=True`` continues from
``last.pt`` with the same batches and latents the uninterrupted run would draw.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from livegan.errors import UserError
from livegan.music.dataset import PhraseSet, load_phrases
from livegan.training.config import Config
from livegan.training.data.batches import BatchSource
from livegan.training.loop import distributed
from livegan.training.loop.checkpoint import load_checkpoint, save_checkpoint
from livegan.training.loop.modelinfo import hardware, make_info, with_facts
from livegan.training.loop.samples import save_samples
from livegan.training.loop.trainers import Trainer, make_trainer

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Everything one training process holds."""

    config: Config
    data: PhraseSet
    out: Path
    ctx: distributed.Context
    trainer: Trainer
    step: int = 0
    elapsed: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)

    @property
    def generator(self) -> torch.nn.Module:
        """The generator (MuseGAN) or whole model (LSTM, VAE), wrapped for DDP under torchrun."""
        return self.trainer.modules["generator"]

    @property
    def critic(self) -> torch.nn.Module:
        """MuseGAN's critic (wrapped for DDP under torchrun)."""
        return self.trainer.modules["critic"]


def train(data_path: str | Path, config: Config, out: str | Path, resume: bool = False,
          device: str | None = None, progress: bool = True, minutes: float = 0.0) -> Path:
    """Train ``config.arch`` until ``config.train.steps`` updates (or ``minutes`` of training); returns ``last.pt``."""
    ctx = distributed.setup(device)
    try:
        run = _create(Path(data_path), config, Path(out), ctx)
        if resume:
            _resume(run)
        _loop(run, progress, minutes)
        return run.out / "last.pt"
    finally:
        distributed.teardown()


def _create(data_path: Path, config: Config, out: Path, ctx: distributed.Context) -> Run:
    data = load_phrases(data_path)
    config = Config(data.grid, config.model, config.train)  # the dataset fixes the grid
    if config.train.threads and ctx.device.type == "cpu":
        torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)  # identical initial weights in every process
    source = BatchSource(data, config.train.transpose, config.train.seed, ctx.rank)
    run = Run(config, data, out, ctx, make_trainer(config, data, ctx, source))
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    return run


def _resume(run: Run) -> None:
    path = run.out / "last.pt"
    if not path.is_file():
        raise UserError(f"cannot resume: '{path}' does not exist; drop --resume to start a new run in '{run.out}'")
    state, meta = load_checkpoint(path, map_location=run.ctx.device)
    saved = meta.get("config", {})
    arch = saved.get("arch", "musegan")
    if arch != run.config.arch:
        raise UserError(f"cannot resume from '{path}': it is a {arch} run and this config is {run.config.arch}; "
                        f"use --arch {arch} or the run's config.json")
    if saved.get("model") != json.loads(json.dumps(run.config.to_dict()))["model"]:
        raise UserError(f"cannot resume from '{path}': its [model] config differs from this one; use the run's config.json")
    trainer = run.trainer
    fresh = [k for k in (*trainer.modules, *trainer.optimizers) if k not in state and k in trainer.optional]
    missing = [k for k in (*trainer.modules, *trainer.optimizers) if k not in state and k not in trainer.optional]
    if missing:
        raise UserError(f"cannot resume from '{path}': it lacks {', '.join(missing)}, which a {arch} run needs")
    try:
        for key, module in trainer.modules.items():
            if key not in fresh:
                distributed.unwrap(module).load_state_dict(state[key])
        for key, optimizer in trainer.optimizers.items():
            if key not in fresh:
                optimizer.load_state_dict(state[key])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot resume from '{path}': its weights do not fit its config ({first})") from None
    run.step = int(state["step"])
    if "rng" in state:
        torch.set_rng_state(state["rng"].cpu())
    run.elapsed = float(meta.get("elapsed_s", 0.0))
    log.info("resumed from %s at step %d%s", path, run.step, f" ({', '.join(fresh)} start fresh)" if fresh else "")


def _loop(run: Run, progress: bool, minutes: float) -> None:
    from tqdm import tqdm

    t = run.config.train
    started = time.monotonic() - run.elapsed
    bar = tqdm(total=t.steps, initial=run.step, disable=not (progress and run.ctx.main), mininterval=2.0,
               dynamic_ncols=True, desc="train")
    while run.step < t.steps:
        run.step += 1
        losses = run.trainer.step(run.step)
        run.elapsed = time.monotonic() - started
        bar.update(1)
        out_of_time = minutes > 0 and distributed.all_mean(float(run.elapsed >= minutes * 60.0), run.ctx) > 0
        if run.step % t.log_every == 0:
            run.losses = {k: distributed.all_mean(v, run.ctx) for k, v in losses.items()}
        if run.step % t.log_every == 0 or run.step == t.steps:
            bar.set_postfix({k: f"{v:.3f}" for k, v in run.losses.items()}, refresh=False)
        if run.ctx.main and (run.step % t.sample_every == 0 or run.step == t.steps or out_of_time):
            save_samples(run.out / "samples", run.step, *run.trainer.samples(), run.data.tracks, run.data.grid.lowest_pitch)
        if run.step % t.checkpoint_every == 0 or run.step == t.steps or out_of_time:
            _checkpoint(run)
        if out_of_time:
            log.info("stopping at step %d: the %.1f-minute limit is reached", run.step, minutes)
            break
    bar.close()


def _checkpoint(run: Run) -> None:
    """Every process reaches here together; only the main one writes ``checkpoints/step_N.pt`` and ``last.pt``."""
    if not run.ctx.main:
        return
    trainer = run.trainer
    info = make_info(run.data, run.config, trainer.latent_size).to_dict()
    facts = {"steps": run.step, "elapsed_s": round(run.elapsed, 1), "hardware": hardware(run.ctx.device, run.ctx.world),
             "processes": run.ctx.world, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    meta = {"config": run.config.to_dict(), "info": with_facts(info, training=facts), "elapsed_s": run.elapsed}
    state = {**{k: distributed.unwrap(m).state_dict() for k, m in trainer.modules.items()},
             **{k: o.state_dict() for k, o in trainer.optimizers.items()},
             "step": torch.tensor(run.step), "rng": torch.get_rng_state()}
    path = save_checkpoint(run.out / "checkpoints" / f"step_{run.step:07d}.pt", state, meta)
    save_checkpoint(run.out / "last.pt", state, meta)
    log.debug("checkpoint %s", path)
