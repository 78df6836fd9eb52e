"""What a training run holds and carries across a restart: the networks, their optimizers, the resume.

:func:`build_state` makes the networks (G, its EMA, D, the frozen VGG of the perceptual loss) and the
two Adam optimizers; :func:`resume` loads the newest checkpoint into them, or starts a new run
(optionally from release weights, :mod:`irodori.train.warm_start`); :func:`checkpoint_payload` is
what :func:`irodori.checkpoint.save_checkpoint` writes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from irodori import __version__
from irodori import checkpoint as ckpt
from irodori.config import Config
from irodori.errors import ConfigError
from irodori.lineage import start_lineage, with_steps
from irodori.models import build_discriminator, build_generator, needs_vgg_weights
from irodori.models.vgg import VGG19Features
from irodori.train.warm_start import init_generator


@dataclass
class TrainState:
    """The networks and optimizers of a run, its step, lineage and last logged loss terms."""

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    vgg: nn.Module | None = None
    step: int = 0
    lineage: list = field(default_factory=list)
    last: dict = field(default_factory=dict)


def build_state(cfg: Config, device: torch.device, channels_last: bool = False) -> TrainState:
    """Fresh networks on ``device`` (channels-last when asked: cuDNN's fast layout), pretrained VGG19
    where the config needs it, G's EMA copy, and the paper's Adam optimizers."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G = build_generator(cfg.generator).to(device, memory_format=fmt)
    D = build_discriminator(cfg.discriminator).to(device, memory_format=fmt)
    if needs_vgg_weights(cfg.generator):
        G.hint_encoder.vgg.load_pretrained(cfg.loss.vgg19_weights or None)
    vgg = None
    if cfg.loss.perceptual == "vgg19" and cfg.loss.lambda_perc > 0:
        vgg = VGG19Features().to(device)
        vgg.load_pretrained(cfg.loss.vgg19_weights or None)
    tc = cfg.train
    opt_g = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], lr=tc.lr, betas=tuple(tc.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=tc.lr, betas=tuple(tc.betas))
    return TrainState(G, D, copy.deepcopy(G).eval().requires_grad_(False), opt_g, opt_d, vgg)


def _check_resumable(cfg: Config, saved: dict) -> None:
    for section in ("generator", "discriminator"):
        if saved.get(section) != cfg.to_dict()[section]:
            raise ConfigError(
                f"the run directory holds a checkpoint of a different {section} "
                f"({saved.get(section)}); use another --out or the same config")


def resume(state: TrainState, cfg: Config, out_dir: Path, *, rank: int = 0, init_from: str | Path | None = None,
           init_partial: bool = False, log: Callable[[str], None] | None = None) -> None:
    """Load the newest complete checkpoint in ``out_dir/checkpoints`` into ``state`` (networks, optimizers,
    step, lineage, this rank's torch RNG); without one, start a new run, from ``init_from`` if given.
    Rank 0 first removes the temp files of checkpoint writes a killed run left behind."""
    log = log or (lambda _msg: None)
    if rank == 0:
        stale = ckpt.remove_stale_temps(out_dir / "checkpoints") + ckpt.remove_stale_temps(out_dir, ("config.yaml",))
        for path in stale:
            log(f"removed {path.name}, left by an interrupted write")
    found = ckpt.load_latest(out_dir / "checkpoints")
    if found is None:
        if init_from is not None:
            _, report = init_generator(state.G, init_from, allow_partial=init_partial)
            state.G_ema.load_state_dict(state.G.state_dict())
            log(report)
        state.lineage = start_lineage(cfg, init_from)
        log(f"starting a new run in {out_dir}" + (f" from the weights in {init_from}" if init_from else ""))
        return
    saved, latest = found
    _check_resumable(cfg, saved["config"])
    for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
        getattr(state, name).load_state_dict(saved[name])
    state.step = int(saved["step"])
    state.lineage = saved.get("lineage") or start_lineage(cfg)
    rng = saved["rng"]["torch"]
    torch.set_rng_state(rng[rank % len(rng)])
    log(f"resuming from {latest} at step {state.step}")


def checkpoint_payload(state: TrainState, cfg: Config) -> dict:
    """Everything a resume needs, as :func:`irodori.checkpoint.save_checkpoint` stores it."""
    return {"G": state.G.state_dict(), "D": state.D.state_dict(), "G_ema": state.G_ema.state_dict(),
            "opt_g": state.opt_g.state_dict(), "opt_d": state.opt_d.state_dict(), "step": state.step,
            "config": cfg.to_dict(), "rng": {"torch": [torch.get_rng_state()]}, "version": ckpt.CHECKPOINT_VERSION,
            "irodori": __version__, "lineage": with_steps(state.lineage, state.step)}
