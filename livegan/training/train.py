"""WGAN-GP training of the mood-conditioned MuseGAN, in one process or under torchrun.

A run folder holds ``config.json`` (the resolved config), ``last.pt`` and
``checkpoints/step_NNNNNNN.pt`` (see :mod:`checkpoint`), and ``samples/`` (piano
rolls of fixed latents at the named moods). ``resume=True`` continues from
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
from livegan.training import distributed
from livegan.training.batches import BatchSource, latents
from livegan.training.checkpoint import load_checkpoint, save_checkpoint
from livegan.training.config import Config
from livegan.training.dataset import PhraseSet, load_phrases
from livegan.training.losses import critic_loss, diversity_loss, generator_loss, mode_loss
from livegan.training.modelinfo import hardware, make_info, with_facts
from livegan.training.nets import Critic, Generator
from livegan.training.samples import write_samples

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Everything one training process holds."""

    config: Config
    data: PhraseSet
    out: Path
    ctx: distributed.Context
    generator: torch.nn.Module
    critic: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    source: BatchSource
    step: int = 0
    elapsed: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)


def train(data_path: str | Path, config: Config, out: str | Path, resume: bool = False,
          device: str | None = None, progress: bool = True, minutes: float = 0.0) -> Path:
    """Train until ``config.train.steps`` generator updates (or ``minutes`` of training); returns ``last.pt``."""
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
    n_tracks = len(data.tracks)
    gen = Generator(config.model, data.grid, n_tracks).to(ctx.device)
    critic = Critic(config.model, data.grid, n_tracks).to(ctx.device)
    t = config.train
    opt_g = torch.optim.Adam(gen.parameters(), lr=t.lr_g, betas=tuple(t.betas))
    opt_d = torch.optim.Adam(critic.parameters(), lr=t.lr_d, betas=tuple(t.betas))
    source = BatchSource(data, t.transpose, t.seed, ctx.rank)
    run = Run(config, data, out, ctx, distributed.wrap(gen, ctx), distributed.wrap(critic, ctx), opt_g, opt_d, source)
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    return run


def _resume(run: Run) -> None:
    path = run.out / "last.pt"
    if not path.is_file():
        raise UserError(f"cannot resume: '{path}' does not exist; drop --resume to start a new run in '{run.out}'")
    state, meta = load_checkpoint(path, map_location=run.ctx.device)
    if meta["config"]["model"] != json.loads(json.dumps(run.config.to_dict()))["model"]:
        raise UserError(f"cannot resume from '{path}': its [model] config differs from this one; use the run's config.json")
    distributed.unwrap(run.generator).load_state_dict(state["generator"])
    distributed.unwrap(run.critic).load_state_dict(state["critic"])
    run.opt_g.load_state_dict(state["opt_g"])
    run.opt_d.load_state_dict(state["opt_d"])
    run.step = int(state["step"])
    if "rng" in state:
        torch.set_rng_state(state["rng"].cpu())
    run.elapsed = float(meta.get("elapsed_s", 0.0))
    log.info("resumed from %s at step %d", path, run.step)


def _loop(run: Run, progress: bool, minutes: float) -> None:
    from tqdm import tqdm

    t = run.config.train
    started = time.monotonic() - run.elapsed
    bar = tqdm(total=t.steps, initial=run.step, disable=not (progress and run.ctx.main), mininterval=2.0,
               dynamic_ncols=True, desc="train")
    while run.step < t.steps:
        run.step += 1
        _step(run)
        run.elapsed = time.monotonic() - started
        bar.update(1)
        out_of_time = minutes > 0 and distributed.all_mean(float(run.elapsed >= minutes * 60.0), run.ctx) > 0
        if run.step % t.log_every == 0 or run.step == t.steps:
            bar.set_postfix({k: f"{v:.3f}" for k, v in run.losses.items()}, refresh=False)
        if run.ctx.main and (run.step % t.sample_every == 0 or run.step == t.steps or out_of_time):
            write_samples(distributed.unwrap(run.generator), run.out / "samples", run.step, run.data.tracks,
                          run.data.grid.lowest_pitch)
        if run.step % t.checkpoint_every == 0 or run.step == t.steps or out_of_time:
            _checkpoint(run)
        if out_of_time:
            log.info("stopping at step %d: the %.1f-minute limit is reached", run.step, minutes)
            break
    bar.close()


def _step(run: Run) -> None:
    """One generator update after ``d_steps`` critic updates (WGAN-GP)."""
    t, dev, gen, critic = run.config.train, run.ctx.device, run.generator, run.critic
    size = distributed.unwrap(gen).latent_size
    for k in range(t.d_steps):
        real, mood = (x.to(dev) for x in run.source.batch(t.batch_size, run.step, salt=k))
        z = latents(t.batch_size, size, t.seed, run.ctx.rank, run.step * 131 + k).to(dev)
        with torch.no_grad():
            fake = gen(z, mood)
        loss_d, parts = critic_loss(critic, real, fake, mood, t.gp_weight)
        run.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        run.opt_d.step()
    z = latents(t.batch_size, size, t.seed, run.ctx.rank, run.step * 131 + 127).to(dev)
    half = t.batch_size // 2 if t.diversity_weight > 0 else 0
    if half:  # pairs of latents under one mood: the batch's second half repeats the first's moods
        mood = torch.cat([mood[:half], mood[:half], mood[2 * half:]])
    fake = gen(z, mood)
    loss_g = generator_loss(distributed.unwrap(critic), fake, mood)
    if t.mode_weight > 0:
        drums = torch.as_tensor(run.data.drums, device=dev)
        loss_g = loss_g + t.mode_weight * mode_loss(fake, mood, drums, run.data.grid.lowest_pitch)
    if half:
        loss_g = loss_g + t.diversity_weight * diversity_loss(fake[:half], fake[half:2 * half], z[:half], z[half:2 * half])
    run.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    run.opt_g.step()
    if run.step % t.log_every == 0:
        run.losses = {k: distributed.all_mean(v, run.ctx) for k, v in {**parts, "g": float(loss_g.detach())}.items()}


def _checkpoint(run: Run) -> None:
    """Every process reaches here together; only the main one writes ``checkpoints/step_N.pt`` and ``last.pt``."""
    if not run.ctx.main:
        return
    gen = distributed.unwrap(run.generator)
    info = make_info(run.data, run.config, gen.latent_size).to_dict()
    facts = {"steps": run.step, "elapsed_s": round(run.elapsed, 1), "hardware": hardware(run.ctx.device, run.ctx.world),
             "processes": run.ctx.world, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    meta = {"config": run.config.to_dict(), "info": with_facts(info, training=facts), "elapsed_s": run.elapsed}
    state = {"generator": gen.state_dict(), "critic": distributed.unwrap(run.critic).state_dict(),
             "opt_g": run.opt_g.state_dict(), "opt_d": run.opt_d.state_dict(), "step": torch.tensor(run.step), "rng": torch.get_rng_state()}
    path = save_checkpoint(run.out / "checkpoints" / f"step_{run.step:07d}.pt", state, meta)
    save_checkpoint(run.out / "last.pt", state, meta)
    log.debug("checkpoint %s", path)
