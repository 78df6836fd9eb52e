"""The training loop: a plain loop (nanoGPT style) that runs on a laptop CPU and under torchrun.

One iteration = one optimizer step of G and of D (paper §4.2), over ``grad_accum``
micro-batches whose size is ``batch_size / (world_size * grad_accum)``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, default_collate

from irodori import __version__
from irodori.config import Config
from irodori.atomic import atomic_write_text
from irodori.errors import ConfigError
from irodori.inference import resolve_precision
from irodori.losses import d_adversarial_loss, generator_objective, gradient_penalty
from irodori.models import build_discriminator, build_generator, needs_vgg_weights
from irodori.models.vgg import VGG19Features
from irodori.train import checkpoint as ckpt
from irodori.train import distributed
from irodori.train.sampler import ResumableSampler


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


def hint_preview(hint: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hint * mask + (1 - mask)  # white where there is no hint


def image_grid(batch: dict, out: torch.Tensor, n: int = 4) -> torch.Tensor:
    """Rows: line | hints | output | ground truth; returns CHW in [0, 1]."""
    n = min(n, out.shape[0])
    cols = [batch["line"][:n].expand(-1, 3, -1, -1), hint_preview(batch["hint"][:n], batch["mask"][:n]),
            out[:n].clamp(-1, 1), batch["color"][:n]]
    rows = [torch.cat([c[i] for c in cols], 2) for i in range(n)]
    return (torch.cat(rows, 1) + 1) / 2


@dataclass
class TrainState:
    step: int = 0
    last: dict = field(default_factory=dict)


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
            lambda_adv=loss_cfg.lambda_adv, lambda_hint=loss_cfg.lambda_hint, mask=mask)
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


def _check_resumable(cfg: Config, saved: dict) -> None:
    for section in ("generator", "discriminator"):
        if saved.get(section) != cfg.to_dict()[section]:
            raise ConfigError(
                f"the run directory holds a checkpoint of a different {section} "
                f"({saved.get(section)}); use another --out or the same config")


def train(cfg: Config, out_dir: str | Path, *, dry_run: bool = False, init_from: str | Path | None = None,
          init_partial: bool = False, time_limit: float | None = None, device: str = "auto", log=print) -> dict:
    """Train (or resume) ``cfg`` into ``out_dir``; returns the final loss terms and step.

    ``init_from``: release weights (``irodori export``) to start G and its EMA from when the run is new
    (fine-tuning, a new architecture from an old one's matching tensors, see :mod:`irodori.train.warm_start`;
    ``init_partial`` allows a small match); ignored when resuming. ``time_limit``: seconds after which the
    run stops at the next step boundary and writes its checkpoint (result ``time_limit: True``).
    ``device``: ``auto``, ``cuda`` or ``cpu`` (:data:`irodori.train.distributed.DEVICES`).
    """
    from irodori.data import build_dataset
    from irodori.lineage import start_lineage, with_steps

    t_start = time.monotonic()
    dist_info = distributed.setup(device)
    device, main = dist_info.device, dist_info.is_main
    out_dir = Path(out_dir)
    tc = cfg.train
    micro, rem = divmod(tc.batch_size, dist_info.world_size * tc.grad_accum)
    if rem or micro < 1:
        raise ConfigError(f"train.batch_size={tc.batch_size} must be a multiple of "
                          f"world_size*grad_accum={dist_info.world_size * tc.grad_accum}")
    torch.manual_seed(tc.seed + dist_info.rank)
    random.seed(tc.seed + dist_info.rank)

    # --- models, losses' networks --------------------------------------------------------
    # NHWC on CUDA (cuDNN's fast layout for bf16 convolutions); the CPU path keeps NCHW for training.
    channels_last = device.type == "cuda"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G = build_generator(cfg.generator).to(device, memory_format=fmt)
    D = build_discriminator(cfg.discriminator).to(device, memory_format=fmt)
    vgg = None
    if needs_vgg_weights(cfg.generator):
        G.hint_encoder.vgg.load_pretrained(cfg.loss.vgg19_weights or None)
    if cfg.loss.perceptual == "vgg19" and cfg.loss.lambda_perc > 0:
        vgg = VGG19Features().to(device)
        vgg.load_pretrained(cfg.loss.vgg19_weights or None)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_g = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], lr=tc.lr, betas=tuple(tc.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=tc.lr, betas=tuple(tc.betas))

    # --- resume ---------------------------------------------------------------------------
    state = TrainState()
    ckpt_dir = out_dir / "checkpoints"
    latest = ckpt.find_latest(ckpt_dir)
    if latest is not None:
        saved = ckpt.load_checkpoint(latest)
        _check_resumable(cfg, saved["config"])
        G.load_state_dict(saved["G"])
        D.load_state_dict(saved["D"])
        G_ema.load_state_dict(saved["G_ema"])
        opt_g.load_state_dict(saved["opt_g"])
        opt_d.load_state_dict(saved["opt_d"])
        state.step = int(saved["step"])
        lineage = saved.get("lineage") or start_lineage(cfg)
        rng = saved["rng"]
        torch.set_rng_state(rng["torch"][dist_info.rank % len(rng["torch"])])
        if main:
            log(f"resuming from {latest} at step {state.step}")
    else:
        if init_from is not None:
            from irodori.train.warm_start import init_generator
            _, report = init_generator(G, init_from, allow_partial=init_partial)
            G_ema.load_state_dict(G.state_dict())
            if main:
                log(report)
        lineage = start_lineage(cfg, init_from)
        if main:
            log(f"starting a new run in {out_dir}" + (f" from the weights in {init_from}" if init_from else ""))

    dataset = build_dataset(cfg.data, split=cfg.data.split, seed=tc.seed)
    sampler = ResumableSampler(len(dataset), dist_info.rank, dist_info.world_size, tc.seed,
                               start=state.step * micro * tc.grad_accum)
    workers = cfg.data.num_workers
    loader = DataLoader(dataset, batch_size=micro, sampler=sampler, num_workers=workers,
                        pin_memory=device.type == "cuda", worker_init_fn=_worker_init,
                        collate_fn=collate_half if device.type == "cuda" else None,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)

    if dist_info.enabled:
        G_train = DDP(G, device_ids=[device.index] if device.type == "cuda" else None)
        D_train = DDP(D, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        G_train, D_train = G, D
    amp_dtype = resolve_precision(tc.precision, device)
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype != torch.float32 \
        else contextlib.nullcontext
    if main:
        log(f"forward passes in {'bf16 autocast' if amp_dtype == torch.bfloat16 else 'fp32'} on {device} "
            f"(train.precision={tc.precision})")

    if dry_run:
        batch = next(iter(loader))
        with torch.no_grad(), autocast():
            out = G(*(batch[k].to(device).float() for k in ("line", "hint", "mask")))
        if main:
            log(f"dry run: dataset {len(dataset)} samples, micro-batch {micro} x {tc.grad_accum} accum x "
                f"{dist_info.world_size} ranks, output {tuple(out.shape)}; nothing written")
        distributed.teardown()
        return {"step": state.step}

    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "config.yaml", cfg.to_yaml())

    def save() -> Path | None:
        if not main:
            return None
        rng_states = [torch.get_rng_state()]
        payload = {"G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
                   "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": state.step,
                   "config": cfg.to_dict(), "rng": {"torch": rng_states}, "version": ckpt.CHECKPOINT_VERSION,
                   "irodori": __version__, "lineage": with_steps(lineage, state.step)}
        return ckpt.save_checkpoint(ckpt_dir, payload, tc.keep)

    writer = None
    if main:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(out_dir / "tb"))

    stop = _StopFlag()
    old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    data_iter = iter(loader)
    fixed_batch = None
    bar = None
    if main:
        from tqdm import tqdm
        bar = tqdm(total=tc.steps, initial=state.step, unit="step", dynamic_ncols=True, file=sys.stderr,
                   disable=None)
    t0, n0 = time.perf_counter(), state.step
    terms_avg: dict[str, torch.Tensor] = {}  # summed on device between log lines: no host sync per step
    n_avg = 0
    last_saved, last_path = state.step, None
    try:
        while state.step < tc.steps and not stop.stop:
            G_train.train()
            D_train.train()
            opt_g.zero_grad(set_to_none=True)
            opt_d.zero_grad(set_to_none=True)
            step_terms: dict[str, torch.Tensor] = {}
            for micro_i in range(tc.grad_accum):
                batch = next(data_iter)
                if fixed_batch is None:
                    fixed_batch = {k: v[:4].clone().float() for k, v in batch.items()}
                last_micro = micro_i == tc.grad_accum - 1
                ctx = contextlib.ExitStack()
                if dist_info.enabled and not last_micro:
                    ctx.enter_context(G_train.no_sync())
                    ctx.enter_context(D_train.no_sync())
                with ctx:
                    terms = micro_step(G_train, D_train, D, batch, cfg.loss, vgg=vgg, scale=1 / tc.grad_accum,
                                       device=device, autocast=autocast, channels_last=channels_last)
                for k, v in terms.items():
                    step_terms[k] = step_terms.get(k, 0) + v / tc.grad_accum
            lr = lr_at(state.step, tc.lr, tc.steps, tc.lr_decay_steps)
            for group in (*opt_g.param_groups, *opt_d.param_groups):
                group["lr"] = lr
            opt_g.step()
            opt_d.step()
            accumulate(G_ema, G, ema_decay_at(state.step, tc.ema_decay))
            state.step += 1
            for k, v in step_terms.items():
                terms_avg[k] = terms_avg.get(k, 0) + v
            n_avg += 1

            if main and (state.step % tc.log_every == 0 or state.step == tc.steps):
                n = state.step - n0
                avg = {k: float(v) / n_avg for k, v in terms_avg.items()}
                terms_avg, n_avg = {}, 0
                ips = n * tc.batch_size / (time.perf_counter() - t0)
                state.last = avg
                for k, v in avg.items():
                    writer.add_scalar(f"{'d_score' if k in ('d_real', 'd_fake', 'd_wdist') else 'loss'}/{k}", v, state.step)
                writer.add_scalar("perf/images_per_s", ips, state.step)
                writer.add_scalar("train/lr", lr, state.step)
                if bar is not None and not bar.disable:
                    bar.set_postfix(g=f"{avg.get('g_total', 0):.3f}", d=f"{avg.get('d_loss', 0):.3f}",
                                    img_s=f"{ips:.1f}", refresh=False)
                elif state.step % (tc.log_every * 10) == 0 or state.step == tc.steps:
                    # not a terminal (a log file, CI): a plain line now and then instead of a bar
                    eta = (tc.steps - state.step) * tc.batch_size / max(ips, 1e-9)
                    log(f"step {state.step}/{tc.steps} " + " ".join(f"{k}={v:.4f}" for k, v in avg.items())
                        + f" images/s={ips:.1f} eta={eta / 60:.0f}min")
            if main and fixed_batch is not None and (state.step % tc.sample_every == 0 or state.step == tc.steps):
                with torch.no_grad():
                    out = G_ema(*(fixed_batch[k].to(device) for k in ("line", "hint", "mask")))
                writer.add_image("samples/line_hints_output_truth", image_grid(fixed_batch, out.float().cpu()),
                                 state.step)
            if state.step % tc.ckpt_every == 0:
                last_path = save()
                last_saved = state.step
            if bar is not None:
                bar.update(1)
            if time_limit is not None and distributed.any_rank(time.monotonic() - t_start >= time_limit, device):
                stop.stop, stop.signal, stop.timed_out = True, f"the time limit ({time_limit:g} s)", True
    except KeyboardInterrupt:
        stop.stop, stop.signal = True, "SIGINT"
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        if bar is not None:
            bar.close()
    if state.step != last_saved or (stop.stop and last_path is None):
        last_path = save()
    if main and stop.stop:
        # the signal may land just after a periodic save: that checkpoint is the one to resume from
        log(f"stopped by {stop.signal} at step {state.step}; checkpoint written to {last_path}")
    if dist_info.enabled:
        in_sync = distributed.all_ranks_equal(torch.cat([p.detach().flatten() for p in G.parameters()]))
        if main:
            log(f"ranks_in_sync={in_sync} world_size={dist_info.world_size}")
    if writer is not None:
        writer.close()
    elapsed = time.perf_counter() - t0
    result = {"step": state.step, **state.last,
              "images_per_s": (state.step - n0) * tc.batch_size / elapsed if elapsed > 0 else math.nan}
    distributed.teardown()
    if stop.timed_out:
        result["time_limit"] = True
    elif stop.stop and state.step < tc.steps:
        result["interrupted"] = True
    return result
