"""The training loop: a plain loop (nanoGPT style) that runs on a laptop CPU and under torchrun.

One iteration = one optimizer step of G and of D (paper §4.2), over ``grad_accum``
micro-batches whose size is ``batch_size / (world_size * grad_accum)``.
"""

from __future__ import annotations

import contextlib
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, default_collate

from irodori import checkpoint as ckpt
from irodori.atomic import atomic_write_text
from irodori.config import Config
from irodori.data.build import build_dataset
from irodori.errors import ConfigError
from irodori.colorize.precision import resolve_precision
from irodori.losses import d_adversarial_loss, generator_objective, gradient_penalty
from irodori.train import distributed
from irodori.train.progress import Progress
from irodori.train.sampler import ResumableSampler
from irodori.train.state import TrainState, build_state, checkpoint_payload, resume


@torch.no_grad()
def accumulate(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """EMA of parameters (buffers copied), stylegan2-pytorch's ``accumulate``."""
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p.detach(), 1 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def ema_decay_at(step: int, decay: float) -> float:
    """EMA decay with a warm-up: ``min(decay, (1 + step) / (10 + step))``, so that a short run's EMA is
    not dominated by the random initialisation (at decay 0.999 it would be for the first ~3000 steps)."""
    return min(decay, (1 + step) / (10 + step))


def lr_at(step: int, lr: float, steps: int, decay_steps: int) -> float:
    """Learning rate of the optimizer step that follows ``step`` steps: ``lr`` until the last ``decay_steps``
    of ``steps``, then linearly down towards 0 (pix2pixHD's schedule); ``decay_steps = 0`` keeps ``lr``
    constant, as the paper does. A function of the step only, so a resumed run follows the same schedule."""
    start = steps - decay_steps
    if decay_steps <= 0 or step < start:
        return lr
    return lr * max(0.0, 1.0 - (step - start) / decay_steps)


def _worker_init(worker_id: int) -> None:
    import cv2

    # Schedulers (SLURM preemption, `kill -- -PGID`) signal the whole process group: workers ignore
    # SIGTERM/SIGINT so that the main process can finish its step, write a checkpoint and shut them down.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)  # one thread per worker process; parallelism comes from the workers
    torch.set_num_threads(1)
    seed = torch.initial_seed() % 2**32  # distinct per worker and rank (DataLoader's base seed + id)
    np.random.seed(seed)
    random.seed(seed)


def collate_half(samples: list[dict]) -> dict:
    """``default_collate``, then float16: half the bytes through shared memory, pinning and the copy to
    the GPU (the trainer's CUDA path; :func:`micro_step` casts back to float32 on the device). Lossless
    for 8-bit data: every ``2 k / 255 - 1`` lies within 2^-11 of a float16, under a tenth of a level."""
    return {k: v.half() if v.is_floating_point() else v for k, v in default_collate(samples).items()}


class _StopFlag:
    """Set by SIGTERM/SIGINT (or the time limit); the loop finishes its step, writes a checkpoint and exits."""

    def __init__(self):
        self.stop = False
        self.signal = None
        self.timed_out = False

    def __call__(self, signum, frame):
        if self.stop:  # second signal: give up at once
            raise KeyboardInterrupt
        self.stop, self.signal = True, signal.Signals(signum).name


def micro_step(G_train: nn.Module, D_train: nn.Module, D: nn.Module, batch: dict, loss_cfg, *, vgg=None,
               scale: float = 1.0, device=torch.device("cpu"), autocast=contextlib.nullcontext,
               channels_last: bool = False) -> dict:
    """Forward and backward of G's and D's losses on one micro-batch; gradients are accumulated, not stepped.

    ``channels_last``: the inputs are moved to that memory layout (the models must be in it too; the
    trainer does this on CUDA, where cuDNN's bf16 convolutions are fastest in NHWC).

    G's losses run through the plain ``D`` with its parameters frozen for that pass;
    D's loss runs through ``D_train`` (the DDP wrapper, if any) on real and fake at once.
    Returns the loss terms as floats-on-device (detached).
    """
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    line, hint, mask, real = (batch[k].to(device, non_blocking=True).float().contiguous(memory_format=fmt)
                              for k in ("line", "hint", "mask", "color"))
    with autocast():
        fake = G_train(line, hint, mask)
        D.requires_grad_(False)
        feats_fake = D(line, fake)
        with torch.no_grad():
            feats_real = D(line, real)
        g_loss, g_terms = generator_objective(
            feats_fake, feats_real, fake.float(), real, adversarial=loss_cfg.adversarial,
            lambda_fm=loss_cfg.lambda_fm, lambda_perc=loss_cfg.lambda_perc, lambda_l1=loss_cfg.lambda_l1, vgg=vgg,
            lambda_adv=loss_cfg.lambda_adv, lambda_hint=loss_cfg.lambda_hint, mask=mask,
            lambda_region=loss_cfg.lambda_region,
            region=batch["region"].to(device).float() if loss_cfg.lambda_region else None)
        D.requires_grad_(True)
    (g_loss * scale).backward()
    n = line.shape[0]
    with autocast():
        both = D_train(torch.cat([line, line]), torch.cat([real, fake.detach()]))
        real_f = [[f[:n] for f in s] for s in both]
        fake_f = [[f[n:] for f in s] for s in both]
        d_loss = d_adversarial_loss(real_f, fake_f, loss_cfg.adversarial)
    d_terms = {}
    if loss_cfg.adversarial == "wgan-gp":
        # Through the plain D, in float32: D_train (DDP) sees one forward per backward, and the penalty's
        # parameter gradients join the same backward, so DDP reduces them with the rest.
        gp = gradient_penalty(D, line, real.float(), fake.detach().float())
        d_terms["d_gp"] = gp.detach()
        d_loss = d_loss + loss_cfg.lambda_gp * gp
    (d_loss * scale).backward()
    if loss_cfg.adversarial == "wgan-gp":
        # A critic's scores are not logits: report its estimate of the Wasserstein distance instead.
        score = lambda feats: torch.stack([s[-1].float().mean() for s in feats]).sum()  # noqa: E731
        d_terms["d_wdist"] = (score(real_f) - score(fake_f)).detach()
    else:
        # D's mean probability of "real" on real and on generated images, over the scales.
        prob = lambda feats: torch.stack([s[-1].float().sigmoid().mean() for s in feats]).mean()  # noqa: E731
        d_terms["d_real"], d_terms["d_fake"] = prob(real_f).detach(), prob(fake_f).detach()
    return {**{k: v.float() for k, v in g_terms.items()}, "d_loss": d_loss.detach().float(), **d_terms}


def _loader(cfg: Config, dataset, micro: int, start: int, dist_info) -> DataLoader:
    """Micro-batches in a resumable order: sample ``start`` of the run's sequence comes first."""
    device = dist_info.device
    sampler = ResumableSampler(len(dataset), dist_info.rank, dist_info.world_size, cfg.train.seed, start=start)
    workers = cfg.data.num_workers
    return DataLoader(dataset, batch_size=micro, sampler=sampler, num_workers=workers,
                      pin_memory=device.type == "cuda", worker_init_fn=_worker_init,
                      collate_fn=collate_half if device.type == "cuda" else None,
                      persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)


def autocast_for(precision: str, device: torch.device):
    """The forward passes' autocast context factory for ``train.precision`` on ``device``, and its dtype."""
    dtype = resolve_precision(precision, device)
    if dtype == torch.float32:
        return contextlib.nullcontext, dtype
    return (lambda: torch.autocast(device.type, dtype=dtype)), dtype


def optimizer_step(state: TrainState, G_train, D_train, data_iter, cfg: Config, dist_info, *, autocast,
                   channels_last: bool) -> tuple[dict, float]:
    """One step of G and of D over ``grad_accum`` micro-batches (DDP syncs on the last only), then the EMA.
    Returns the step's loss terms (on the device) and its learning rate."""
    tc = cfg.train
    state.opt_g.zero_grad(set_to_none=True)
    state.opt_d.zero_grad(set_to_none=True)
    terms: dict[str, torch.Tensor] = {}
    for micro_i in range(tc.grad_accum):
        ctx = contextlib.ExitStack()
        if dist_info.enabled and micro_i < tc.grad_accum - 1:
            ctx.enter_context(G_train.no_sync())
            ctx.enter_context(D_train.no_sync())
        with ctx:
            micro = micro_step(G_train, D_train, state.D, next(data_iter), cfg.loss, vgg=state.vgg,
                               scale=1 / tc.grad_accum, device=dist_info.device, autocast=autocast,
                               channels_last=channels_last)
        for k, v in micro.items():
            terms[k] = terms.get(k, 0) + v / tc.grad_accum
    lr = lr_at(state.step, tc.lr, tc.steps, tc.lr_decay_steps)
    for group in (*state.opt_g.param_groups, *state.opt_d.param_groups):
        group["lr"] = lr
    state.opt_g.step()
    state.opt_d.step()
    accumulate(state.G_ema, state.G, ema_decay_at(state.step, tc.ema_decay))
    state.step += 1
    return terms, lr


def train(cfg: Config, out_dir: str | Path, *, dry_run: bool = False, init_from: str | Path | None = None,
          init_partial: bool = False, time_limit: float | None = None, device: str = "auto", log=print) -> dict:
    """Train (or resume) ``cfg`` into ``out_dir``; returns the final loss terms and step.

    ``init_from``: release weights (``irodori export``) to start G and its EMA from when the run is new
    (fine-tuning, a new architecture from an old one's matching tensors, see :mod:`irodori.train.warm_start`;
    ``init_partial`` allows a small match); ignored when resuming. ``time_limit``: seconds after which the
    run stops at the next step boundary and writes its checkpoint (result ``time_limit: True``).
    ``device``: ``auto``, ``cuda`` or ``cpu`` (:data:`irodori.train.distributed.DEVICES`).
    """
    t_start = time.monotonic()
    dist_info = distributed.setup(device)
    device, main = dist_info.device, dist_info.is_main
    main_log = log if main else (lambda _msg: None)
    out_dir, tc = Path(out_dir), cfg.train
    micro, rem = divmod(tc.batch_size, dist_info.world_size * tc.grad_accum)
    if rem or micro < 1:
        raise ConfigError(f"train.batch_size={tc.batch_size} must be a multiple of "
                          f"world_size*grad_accum={dist_info.world_size * tc.grad_accum}")
    torch.manual_seed(tc.seed + dist_info.rank)
    random.seed(tc.seed + dist_info.rank)

    channels_last = device.type == "cuda"  # NHWC on CUDA (cuDNN's bf16 layout); the CPU trains NCHW
    state = build_state(cfg, device, channels_last)
    resume(state, cfg, out_dir, rank=dist_info.rank, init_from=init_from, init_partial=init_partial, log=main_log)
    dataset = build_dataset(cfg.data, split=cfg.data.split, seed=tc.seed)
    loader = _loader(cfg, dataset, micro, state.step * micro * tc.grad_accum, dist_info)
    ids = [device.index] if device.type == "cuda" else None
    G_train, D_train = (DDP(state.G, device_ids=ids), DDP(state.D, device_ids=ids)) if dist_info.enabled \
        else (state.G, state.D)
    autocast, amp_dtype = autocast_for(tc.precision, device)
    main_log(f"forward passes in {'bf16 autocast' if amp_dtype == torch.bfloat16 else 'fp32'} on {device} "
             f"(train.precision={tc.precision})")
    if dry_run:
        with torch.no_grad(), autocast():
            out = state.G(*(v.to(device).float() for v in _inputs(next(iter(loader)))))
        main_log(f"dry run: dataset {len(dataset)} samples, micro-batch {micro} x {tc.grad_accum} accum x "
                 f"{dist_info.world_size} ranks, output {tuple(out.shape)}; nothing written")
        distributed.teardown()
        return {"step": state.step}
    def save() -> Path | None:  # every rank runs the loop; the main rank writes
        return ckpt.save_checkpoint(out_dir / "checkpoints", checkpoint_payload(state, cfg), tc.keep) if main else None

    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "config.yaml", cfg.to_yaml())
    progress = Progress(out_dir, tc.steps, state.step, tc.batch_size, tc.log_every, log) if main else None
    stop = _StopFlag()
    old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    data_iter = iter(loader)
    first = next(data_iter)  # its first images are the sample grids' inputs for the whole run
    fixed_batch, data_iter = {k: v[:4].clone().float() for k, v in first.items()}, _prepend(first, data_iter)
    last_saved, last_path = state.step, None
    try:
        while state.step < tc.steps and not stop.stop:
            G_train.train()
            D_train.train()
            terms, lr = optimizer_step(state, G_train, D_train, data_iter, cfg, dist_info, autocast=autocast,
                                       channels_last=channels_last)
            if progress is not None:
                progress.step(state.step, terms, lr)
                if state.step % tc.sample_every == 0 or state.step == tc.steps:
                    progress.samples(state.step, state.G_ema, fixed_batch, device)
            if state.step % tc.ckpt_every == 0:
                last_path, last_saved = save(), state.step
            if time_limit is not None and distributed.any_rank(time.monotonic() - t_start >= time_limit, device):
                stop.stop, stop.signal, stop.timed_out = True, f"the time limit ({time_limit:g} s)", True
    except KeyboardInterrupt:
        stop.stop, stop.signal = True, "SIGINT"
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        if progress is not None:
            progress.close()
    if state.step != last_saved or (stop.stop and last_path is None):
        last_path = save()
    if stop.stop:  # the signal may land just after a periodic save: that checkpoint is the one to resume from
        main_log(f"stopped by {stop.signal} at step {state.step}; checkpoint written to {last_path}")
    del G_train, D_train  # DDP's reducers hold the process group: let it go before teardown, not at exit
    return _finish(state, progress, stop, dist_info, main_log, tc.steps)


def _finish(state: TrainState, progress: Progress | None, stop: _StopFlag, dist_info, log, steps: int) -> dict:
    """The run's result (step, last logged loss terms, images/s, how it stopped); DDP ranks checked and torn down."""
    if dist_info.enabled:
        in_sync = distributed.all_ranks_equal(torch.cat([p.detach().flatten() for p in state.G.parameters()]))
        log(f"ranks_in_sync={in_sync} world_size={dist_info.world_size}")
    result = {"step": state.step, **(progress.last if progress else {}),
              "images_per_s": progress.images_per_s(state.step) if progress else float("nan")}
    distributed.teardown()
    if stop.timed_out:
        result["time_limit"] = True
    elif stop.stop and state.step < steps:
        result["interrupted"] = True
    return result


def _inputs(batch: dict) -> tuple[torch.Tensor, ...]:
    return tuple(batch[k] for k in ("line", "hint", "mask"))


def _prepend(item, iterator):
    yield item
    yield from iterator
