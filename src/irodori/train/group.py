"""Several runs trained in lockstep on one device over one data stream (``irodori train-group``).

Every run takes the same batch at every step: Table 1's rows see the same data by construction, the data
loader's CPU cost is paid once for all of them (on a GPU machine the loader, not the GPU, limits several
separate runs), and a time limit stops every run at the same step. A model's next stage can train beside
the rows when its data settings are the same (its weights come from ``--init-from``).

Each run is an ordinary run directory ``OUT/NAME`` (``config.yaml``, ``checkpoints/``, ``tb/``): ``irodori
export``, ``irodori train`` (to resume one alone) and ``Colorizer.from_pretrained`` read it. Runs must agree
on what shapes the batches (the ``data`` section, batch size, seed, steps; ``grad_accum`` 1) and start at
the same step; the networks, losses, learning rates and precision are each run's own.

A run whose step raises (an operation the device lacks, out of memory) is left out from there, with its
last checkpoint, and the others go on (``failed`` in the result).

``fit``: after ``warmup`` steps, ``calibrate`` steps are timed; then ``train.steps`` of every run is lowered to
what fits before ``time_limit`` less ``reserve`` seconds, and each run's ``lr_decay_steps`` is scaled with it
(:func:`fit_steps`), so that the learning-rate decay ends inside the time the machine is lent for. The
fitted steps are written into each run's ``config.yaml`` and checkpoints.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from irodori import checkpoint as ckpt
from irodori.atomic import atomic_write_text
from irodori.config import Config
from irodori.data.build import build_dataset
from irodori.errors import ConfigError
from irodori.train import distributed
from irodori.train.loop import _StopFlag, _loader, _prepend, autocast_for, optimizer_step
from irodori.train.progress import Progress
from irodori.train.state import TrainState, build_state, checkpoint_payload, resume

#: Config fields that must be equal across a group's runs (they decide the batches and the step count).
SHARED_TRAIN = ("batch_size", "grad_accum", "seed", "steps")


@dataclass(frozen=True)
class Member:
    """One run of a group: its directory name under the group's folder, its config, its starting weights."""

    name: str
    cfg: Config
    init_from: str | None = None


@dataclass
class _Run:
    member: Member
    state: TrainState
    progress: Progress
    autocast: object
    out: Path


def check_members(members: list[Member]) -> None:
    """ConfigError unless the runs can share one data stream (see the module docstring)."""
    if not members:
        raise ConfigError("a group needs at least one run")
    names = [m.name for m in members]
    if len(set(names)) != len(names) or any(not n or "/" in n or n.startswith(".") for n in names):
        raise ConfigError(f"run names must be distinct folder names, got {names}")
    first = members[0].cfg
    for m in members[1:]:
        if m.cfg.data != first.data:
            raise ConfigError(f"run {m.name!r} has other data settings than {members[0].name!r}: a group shares "
                              "one data stream")
        for k in SHARED_TRAIN:
            if getattr(m.cfg.train, k) != getattr(first.train, k):
                raise ConfigError(f"run {m.name!r} has train.{k}={getattr(m.cfg.train, k)}, "
                                  f"{members[0].name!r} {getattr(first.train, k)}: a group shares it")
    if first.train.grad_accum != 1:
        raise ConfigError("a group trains with train.grad_accum=1")


def fit_steps(step: int, seconds_per_step: float, seconds_left: float, steps: int) -> int:
    """The step count that ends within ``seconds_left`` at ``seconds_per_step`` from ``step``, at most ``steps``
    and at least ``step`` (nothing more fits)."""
    if seconds_per_step <= 0 or not math.isfinite(seconds_per_step):
        return steps
    return max(step, min(steps, step + int(max(0.0, seconds_left) // seconds_per_step)))


def with_steps(cfg: Config, steps: int) -> Config:
    """``cfg`` with ``train.steps`` set to ``steps`` and ``lr_decay_steps`` scaled in proportion."""
    decay = round(cfg.train.lr_decay_steps * steps / cfg.train.steps) if cfg.train.steps else 0
    return replace(cfg, train=replace(cfg.train, steps=steps, lr_decay_steps=decay))


def _start(members: list[Member], out_root: Path, device: torch.device, log) -> list[_Run]:
    runs = []
    for m in members:
        out = out_root / m.name
        torch.manual_seed(m.cfg.train.seed)  # each run starts as `irodori train` would start it alone
        state = build_state(m.cfg, device, device.type == "cuda")
        resume(state, m.cfg, out, init_from=m.init_from, log=lambda msg, n=m.name: log(f"[{n}] {msg}"))
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", m.cfg.to_yaml())
        progress = Progress(out, m.cfg.train.steps, state.step, m.cfg.train.batch_size, m.cfg.train.log_every,
                            lambda msg, n=m.name: log(f"[{n}] {msg}"))
        runs.append(_Run(m, state, progress, autocast_for(m.cfg.train.precision, device)[0], out))
    steps = {r.member.name: r.state.step for r in runs}
    if len(set(steps.values())) != 1:
        raise ConfigError(f"the runs stand at different steps {steps}: resume them alone with `irodori train`")
    return runs


def _refit(runs: list[_Run], seconds_per_step: float, seconds_left: float, log) -> int | None:
    """Lower every run's steps to what fits (before any run's learning-rate decay has begun); returns them."""
    step, steps = runs[0].state.step, runs[0].member.cfg.train.steps
    new = fit_steps(step, seconds_per_step, seconds_left, steps)
    fitted = [with_steps(r.member.cfg, new) for r in runs]
    if any(step > c.train.steps - c.train.lr_decay_steps for c in fitted):
        log(f"fit: {new} steps would start a learning-rate decay before step {step}; keeping {steps}")
        return None
    for r, cfg in zip(runs, fitted):
        r.member = replace(r.member, cfg=cfg)
        r.progress.steps = new
        atomic_write_text(r.out / "config.yaml", cfg.to_yaml())
    log(f"fit: {seconds_per_step:.3f} s per step of all {len(runs)} runs; {new} steps fit "
        f"({seconds_left:.0f} s left){' (all of train.steps)' if new == steps else ''}")
    return new


def _sync(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.monotonic()


def train_group(members: list[Member], out_root: str | Path, *, time_limit: float | None = None,
                fit: bool = False, warmup: int = 5, calibrate: int = 20, reserve: float = 20.0,
                device: str = "auto", log=print) -> dict:
    """Train (or resume) every member in lockstep into ``out_root/NAME`` (module docstring); returns
    ``{"step", "seconds_per_step", "fitted_steps", "time_limit", "runs": {name: result}}``."""
    t_start = time.monotonic()
    check_members(members)
    if fit and time_limit is None:
        raise ConfigError("fitting the steps needs a time limit")
    dist_info = distributed.setup(device)
    if dist_info.enabled:
        raise ConfigError("train-group runs on one device; use `irodori train` under torchrun for DDP")
    dev, out_root, cfg0 = dist_info.device, Path(out_root), members[0].cfg
    runs = _start(members, out_root, dev, log)
    dataset = build_dataset(cfg0.data, split=cfg0.data.split, seed=cfg0.train.seed)
    start = runs[0].state.step
    data_iter = iter(_loader(cfg0, dataset, cfg0.train.batch_size, start * cfg0.train.batch_size, dist_info))
    first = next(data_iter)
    fixed, data_iter = {k: v[:4].clone().float() for k, v in first.items()}, _prepend(first, data_iter)
    log(f"group of {len(runs)} runs on {dev}: {', '.join(r.member.name for r in runs)}; dataset {len(dataset)} "
        f"samples, batch {cfg0.train.batch_size}, from step {start}")
    stop, timing, fitted, failed = _StopFlag(), {}, None, {}
    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while runs and runs[0].state.step < runs[0].member.cfg.train.steps and not stop.stop:
            batch = next(data_iter)
            for r in list(runs):
                try:
                    _step(r, batch, dist_info, dev, fixed)
                except Exception as exc:  # noqa: BLE001 - one run's failure must not take the others down
                    log(f"[{r.member.name}] failed at step {r.state.step + 1}, left out from here: {exc!r}")
                    failed[r.member.name] = {"step": r.state.step, "error": repr(exc)}
                    r.progress.close()
                    runs.remove(r)
            if not runs:
                break
            done = runs[0].state.step - start
            if fit and fitted is None and done in (warmup, warmup + calibrate):
                timing[done] = _sync(dev)
                if done == warmup + calibrate:
                    per = (timing[done] - timing[warmup]) / calibrate
                    fitted = _refit(runs, per, time_limit - (timing[done] - t_start) - reserve, log) or -1
            if time_limit is not None and time.monotonic() - t_start >= time_limit:
                stop.stop, stop.signal, stop.timed_out = True, f"the time limit ({time_limit:g} s)", True
    except KeyboardInterrupt:
        stop.stop, stop.signal = True, "SIGINT"
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    result = _finish(runs, stop, start, timing, warmup, calibrate, fitted, time.monotonic() - t_start, log)
    return {**result, "failed": failed}


def _step(r: _Run, batch: dict, dist_info, dev: torch.device, fixed: dict) -> None:
    tc = r.member.cfg.train
    r.state.G.train()
    r.state.D.train()
    terms, lr = optimizer_step(r.state, r.state.G, r.state.D, iter((batch,)), r.member.cfg, dist_info,
                               autocast=r.autocast, channels_last=dev.type == "cuda")
    r.progress.step(r.state.step, terms, lr)
    if r.state.step % tc.sample_every == 0 or r.state.step == tc.steps:
        r.progress.samples(r.state.step, r.state.G_ema, fixed, dev)
    if r.state.step % tc.ckpt_every == 0:
        ckpt.save_checkpoint(r.out / "checkpoints", checkpoint_payload(r.state, r.member.cfg), tc.keep)


def _finish(runs: list[_Run], stop, start: int, timing: dict, warmup: int, calibrate: int, fitted, seconds: float,
            log) -> dict:
    results = {}
    for r in runs:
        tc = r.member.cfg.train
        if r.state.step != start and r.state.step % tc.ckpt_every:
            ckpt.save_checkpoint(r.out / "checkpoints", checkpoint_payload(r.state, r.member.cfg), tc.keep)
        r.progress.close()
        results[r.member.name] = {"step": r.state.step, "steps": tc.steps, "lr_decay_steps": tc.lr_decay_steps,
                                  **r.progress.last}
    step = runs[0].state.step if runs else start
    per = ((timing[warmup + calibrate] - timing[warmup]) / calibrate) if warmup + calibrate in timing else None
    if stop.stop:
        log(f"stopped by {stop.signal} at step {step}; every run's checkpoint written")
    return {"step": step, "seconds": seconds, "seconds_per_step": per,
            "fitted_steps": fitted if fitted and fitted > 0 else None, "time_limit": bool(stop.timed_out),
            "interrupted": bool(stop.stop and not stop.timed_out and runs and step < runs[0].member.cfg.train.steps),
            "runs": results}
