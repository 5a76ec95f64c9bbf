"""One trainer per architecture: its networks and optimisers, one update, and sample phrases.

The training loop (:mod:`livegan.training.loop.train`) drives any of them the same way
and saves :attr:`Trainer.modules` and :attr:`Trainer.optimizers` under their keys.
The keys are MuseGAN's since the first checkpoints (``generator``, ``critic``,
``opt_g``, ``opt_d``); the LSTM and the VAE keep their whole model under
``generator`` and its optimiser under ``opt_g``, so every checkpoint has a
``generator`` and old ones resume and export unchanged.
"""

from __future__ import annotations

import logging
import math
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from livegan.music.dataset import PhraseSet
from livegan.training.config import Config
from livegan.training.data.batches import BatchSource, VoiceBatchSource, latents
from livegan.training.loop import distributed
from livegan.training.loop.samples import SAMPLE_SEED, generate_probs, sample_inputs
from livegan.training.nets.losses import (
    critic_loss,
    diversity_loss,
    generator_loss,
    mode_loss,
)
from livegan.training.nets.coconet import Coconet, draw_masks, masked_loss, meter_features
from livegan.training.nets.coconet import to_classes as coconet_classes
from livegan.training.nets.coconet import to_planes as coconet_planes
from livegan.training.nets.lstm import MoodLstm, sample_phrases, teacher_inputs
from livegan.training.nets.musegan import Critic, Generator, MoodHead
from livegan.training.nets.vae import Vae, kl_beta, vae_loss

log = logging.getLogger(__name__)
VALIDATE_EVERY = 250  # steps between validation losses (the infilling model's)

Samples = tuple[np.ndarray, np.ndarray, torch.Tensor, list[str]]  # probs, notes, mood, names (see samples.save_samples)


class Trainer:
    """What the loop needs from an architecture; subclasses build the networks and do one update.

    ``modules`` maps checkpoint keys to networks (DistributedDataParallel-wrapped
    under torchrun), ``optimizers`` maps checkpoint keys to their optimisers.
    Batches come from ``source`` seeded by (seed, rank, step), so a resumed run
    draws what the uninterrupted run would.
    """

    arch: ClassVar[str] = ""
    optional: ClassVar[frozenset[str]] = frozenset()  # checkpoint keys a resumed run may lack: those parts start fresh

    def __init__(self, config: Config, data: PhraseSet, ctx: distributed.Context, source: BatchSource) -> None:
        self.config, self.data, self.ctx, self.source = config, data, ctx, source
        nets = {k: net.to(ctx.device) for k, net in self.build().items()}
        self.optimizers = self.optimise(nets)
        self.modules = {k: distributed.wrap(net, ctx) for k, net in nets.items()}

    def build(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def optimise(self, nets: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """One Adam on the model at ``lr_g`` (MuseGAN adds the critic's)."""
        t = self.config.train
        return {"opt_g": torch.optim.Adam(nets["generator"].parameters(), lr=t.lr_g, betas=tuple(t.betas))}

    def step(self, step: int) -> dict[str, float]:
        """One update at training step ``step`` (1-based); returns the losses to log."""
        raise NotImplementedError

    def samples(self) -> Samples:
        """Phrases at the preset moods from fixed latents or noise, in eval mode."""
        raise NotImplementedError

    @property
    def model(self) -> nn.Module:
        """The network that is exported (unwrapped)."""
        return distributed.unwrap(self.modules["generator"])

    @property
    def latent_size(self) -> int:
        """The contract's latent_size: z's length, or a step model's state length."""
        return int(self.model.latent_size)

    def real_batch(self, step: int, salt: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(rolls float32 [N, T, B, S, P] of 0/1, moods [N, 2]) on the device."""
        rolls, mood = self.source.batch(self.config.train.batch_size, step, salt)
        return (rolls > 0).float().to(self.ctx.device), mood.to(self.ctx.device)

    def update(self, loss: torch.Tensor) -> None:
        """Backward, clip the gradient norm to ``grad_clip`` (when > 0), and step ``opt_g``."""
        opt = self.optimizers["opt_g"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.train.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.modules["generator"].parameters(), self.config.train.grad_clip)
        opt.step()


class GanTrainer(Trainer):
    """MuseGAN: a generator and a critic, WGAN-GP (optionally the mode, diversity and auxiliary mood losses).

    With ``aux_weight`` > 0 the critic gets a :class:`MoodHead` (checkpoint key
    ``mood_head``, optimiser ``opt_head`` at the critic's rate) that reads the mood
    from its features; a run resumed from a checkpoint without one starts the head fresh.
    """

    arch = "musegan"
    optional = frozenset({"mood_head", "opt_head"})

    def build(self) -> dict[str, nn.Module]:
        n_tracks, c = len(self.data.tracks), self.config
        generator = Generator(c.model, self.data.grid, n_tracks)  # built first: the same initial weights as before
        nets: dict[str, nn.Module] = {"generator": generator, "critic": Critic(c.model, self.data.grid, n_tracks)}
        if c.train.aux_weight > 0:  # built last and only when used: runs without it draw the same random numbers as before
            nets["mood_head"] = MoodHead(c.model, [bool(d) for d in self.data.drums])
        return nets

    def optimise(self, nets: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        t = self.config.train
        opts = {**super().optimise(nets), "opt_d": torch.optim.Adam(nets["critic"].parameters(), lr=t.lr_d, betas=tuple(t.betas))}
        if "mood_head" in nets:
            opts["opt_head"] = torch.optim.Adam(nets["mood_head"].parameters(), lr=t.lr_d, betas=tuple(t.betas))
        return opts

    def step(self, step: int) -> dict[str, float]:
        """One generator update after ``d_steps`` critic updates."""
        t, dev, rank = self.config.train, self.ctx.device, self.ctx.rank
        gen, critic, size = self.modules["generator"], self.modules["critic"], self.latent_size
        head = self.modules.get("mood_head")
        critic_opts = [self.optimizers[k] for k in ("opt_d", "opt_head") if k in self.optimizers]
        for k in range(t.d_steps):
            real, mood = (x.to(dev) for x in self.source.batch(t.batch_size, step, salt=k))
            z = latents(t.batch_size, size, t.seed, rank, step * 131 + k).to(dev)
            with torch.no_grad():
                fake = gen(z, mood)
            loss_d, parts = critic_loss(critic, real, fake, mood, t.gp_weight, head, t.aux_weight)
            for opt in critic_opts:
                opt.zero_grad(set_to_none=True)
            loss_d.backward()
            for opt in critic_opts:
                opt.step()
        z = latents(t.batch_size, size, t.seed, rank, step * 131 + 127).to(dev)
        half = t.batch_size // 2 if t.diversity_weight > 0 else 0
        if half:  # pairs of latents under one mood: the batch's second half repeats the first's moods
            mood = torch.cat([mood[:half], mood[:half], mood[2 * half:]])
        fake = gen(z, mood)
        loss_g, heard = generator_loss(distributed.unwrap(critic), fake, mood,
                                       distributed.unwrap(head) if head is not None else None)
        if heard is not None:
            loss_g = loss_g + t.aux_weight * heard
            parts["aux_g"] = float(heard.detach())
        if t.mode_weight > 0:
            drums = torch.as_tensor(self.data.drums, device=dev)
            loss_g = loss_g + t.mode_weight * mode_loss(fake, mood, drums)
        if half:
            loss_g = loss_g + t.diversity_weight * diversity_loss(fake[:half], fake[half:2 * half], z[:half], z[half:2 * half])
        self.optimizers["opt_g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["opt_g"].step()
        return {**parts, "g": float(loss_g.detach())}

    def samples(self) -> Samples:
        z, mood, names = sample_inputs(self.latent_size)
        probs = generate_probs(self.model, z, mood)
        return probs, probs > 0.5, mood, names


class LstmTrainer(Trainer):
    """The LSTM: teacher forcing over whole phrases, binary cross-entropy per note."""

    arch = "lstm"

    def build(self) -> dict[str, nn.Module]:
        return {"generator": MoodLstm(self.config.model, self.data.grid, len(self.data.tracks))}

    def step(self, step: int) -> dict[str, float]:
        rolls, mood = self.real_batch(step)
        previous, where, targets = teacher_inputs(rolls, self.data.grid.steps_per_bar)
        logits, _ = self.modules["generator"](previous, where, mood)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, targets)
        self.update(loss)
        return {"bce": float(loss.detach())}

    def samples(self) -> Samples:
        _, mood, names = sample_inputs(1)
        probs, notes = sample_phrases(self.model, mood, self.data.grid.bars, SAMPLE_SEED)
        return probs, notes, mood, names


class VaeTrainer(Trainer):
    """The VAE: reconstruction plus a warmed-up KL term with free bits."""

    arch = "vae"

    def build(self) -> dict[str, nn.Module]:
        return {"generator": Vae(self.config.model, self.data.grid, len(self.data.tracks))}

    def step(self, step: int) -> dict[str, float]:
        rolls, mood = self.real_batch(step)
        logits, mu, logvar = self.modules["generator"](rolls, mood)
        m = self.config.model
        loss, parts = vae_loss(logits, rolls, mu, logvar, kl_beta(m, step), m.free_bits)
        self.update(loss)
        return parts

    def samples(self) -> Samples:
        z, mood, names = sample_inputs(self.latent_size)
        probs = generate_probs(self.model.decoder, z, mood, logits=True)
        return probs, probs > 0.5, mood, names


class CoconetTrainer(Trainer):
    """The infilling model: erase cells by the tasks' masks, restore them (cross-entropy on the erased cells).

    The learning rate falls from ``lr_g`` to a tenth of it along a cosine over the run.
    """

    arch = "coconet"

    def __init__(self, config: Config, data: PhraseSet, ctx: distributed.Context, source: BatchSource) -> None:
        self.voices = VoiceBatchSource(data, config.train.transpose, config.train.seed, ctx.rank)
        super().__init__(config, data, ctx, source)

    def build(self) -> dict[str, nn.Module]:
        return {"generator": Coconet(self.config.model, self.data.grid, len(self.data.tracks))}

    def step(self, step: int) -> dict[str, float]:
        t, grid, dev = self.config.train, self.data.grid, self.ctx.device
        pitch, onset, fermatas, mood = self.voices.batch(t.batch_size, step)
        rng = self.voices.rng(step, salt=1)
        n, v, steps = pitch.shape
        mask = draw_masks(n, v, steps, grid.steps_per_bar, rng)
        known = (rng.random(n) >= self.config.model.mood_dropout).astype(np.float32)
        mood_in = np.concatenate([mood * known[:, None], known[:, None]], axis=1)
        meter = np.stack([meter_features(steps, grid, f) for f in fermatas])
        pitch_t, onset_t = torch.from_numpy(pitch).to(dev), torch.from_numpy(onset).to(dev)
        planes = coconet_planes(pitch_t, onset_t, grid.n_pitches)
        logits = self.modules["generator"](planes, torch.from_numpy(mask).to(dev), torch.from_numpy(meter).to(dev),
                                           torch.from_numpy(mood_in).to(dev))
        loss = masked_loss(logits, coconet_classes(pitch_t, onset_t, grid.n_pitches), torch.from_numpy(mask).to(dev))
        for group in self.optimizers["opt_g"].param_groups:
            group["lr"] = t.lr_g * (0.1 + 0.45 * (1.0 + math.cos(math.pi * min(1.0, step / t.steps))))
        self.update(loss)
        losses = {"ce": float(loss.detach())}
        if step % VALIDATE_EVERY == 0 and len(self.voices.validation):
            losses.update(self.validate())
            log.info("step %d: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
        return losses

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Cross-entropy on held-out pieces (the same cells every time): the next bar given three, and orderless masks."""
        grid, model, dev = self.data.grid, self.model, self.ctx.device
        index = self.voices.validation[:256]
        pitch, onset, fermatas, mood = self.voices.phrases(index)
        n, v, steps = pitch.shape
        meter = torch.from_numpy(np.stack([meter_features(steps, grid, f) for f in fermatas])).to(dev)
        mood_in = torch.from_numpy(np.concatenate([mood, np.ones((n, 1), np.float32)], axis=1)).to(dev)
        pitch_t, onset_t = torch.from_numpy(pitch).to(dev), torch.from_numpy(onset).to(dev)
        planes, classes = coconet_planes(pitch_t, onset_t, grid.n_pitches), coconet_classes(pitch_t, onset_t, grid.n_pitches)
        next_bar = np.zeros((n, v, steps), np.float32)
        next_bar[:, :, -grid.steps_per_bar:] = 1.0
        orderless = draw_masks(n, v, steps, grid.steps_per_bar, np.random.default_rng(SAMPLE_SEED), weights=(1, 0, 0, 0))
        was_training = model.training
        model.eval()
        out = {}
        for name, mask in (("val_next_bar", next_bar), ("val_orderless", orderless)):
            m = torch.from_numpy(mask).to(dev)
            out[name] = float(masked_loss(model(planes, m, meter, mood_in), classes, m))
        model.train(was_training)
        return out

    def samples(self) -> Samples:
        """Phrases sampled from nothing at the preset moods (Gibbs, 64 passes), fermatas at the ends of bars 2 and 4."""
        from livegan.generation.gibbs import Schedule, gibbs
        from livegan.music.voices import roll_of

        grid, model = self.data.grid, self.model
        _, mood, names = sample_inputs(1)
        n, v, steps = len(names), len(self.data.tracks), grid.phrase_steps
        fermata = np.zeros(steps, bool)
        for end in (2, 4):
            fermata[end * grid.steps_per_bar - grid.steps_per_beat:end * grid.steps_per_bar] = True
        meter = np.repeat(meter_features(steps, grid, fermata)[None], n, 0)
        mood_in = np.concatenate([mood.numpy(), np.ones((n, 1), np.float32)], axis=1)
        predict = torch_predict(model, self.ctx.device)
        pitch, _ = gibbs(predict, np.zeros((n, v, steps), np.int16), np.zeros((n, v, steps), bool),
                         np.ones((n, v, steps), bool), meter, mood_in, grid.n_pitches,
                         np.random.default_rng(SAMPLE_SEED), Schedule(iterations=64))
        notes = roll_of(pitch, grid.n_pitches).reshape(n, v, grid.bars, grid.steps_per_bar, grid.n_pitches)
        return notes.astype(np.float32), notes, mood, names


def torch_predict(model: nn.Module, device: torch.device):
    """A numpy ``predict`` (:data:`livegan.generation.gibbs.Predict`) of a torch Coconet in eval mode."""

    @torch.no_grad()
    def predict(planes: np.ndarray, mask: np.ndarray, meter: np.ndarray, mood: np.ndarray) -> np.ndarray:
        was_training = model.training
        model.eval()
        out = model(*(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device) for a in (planes, mask, meter, mood)))
        model.train(was_training)
        return out.cpu().numpy()

    return predict


TRAINERS: dict[str, type[Trainer]] = {t.arch: t for t in (GanTrainer, LstmTrainer, VaeTrainer, CoconetTrainer)}


def make_trainer(config: Config, data: PhraseSet, ctx: distributed.Context, source: BatchSource) -> Trainer:
    """The trainer of ``config.arch``."""
    return TRAINERS[config.arch](config, data, ctx, source)
