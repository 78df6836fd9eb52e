"""``irodori train``: train or resume a model."""

from __future__ import annotations

import argparse

from irodori.config import PRESETS, load_config, whole_number, decimal_number
from irodori.errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train (or resume) a model from a preset or YAML config",
        description="Train a preset or YAML config into RUN_DIR. Running the same command on the same RUN_DIR "
                    "resumes from its newest checkpoint. Works unchanged under `torchrun --nproc_per_node=K` "
                    "(DDP; NCCL on GPU, gloo on CPU). Ctrl-C or SIGTERM writes a checkpoint before exiting. "
                    "The last line printed is step=<int> followed by the final losses.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help=f"preset name ({', '.join(PRESETS)}) or a YAML path")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. train.batch_size=8")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory (config, checkpoints, tb logs)")
    p.add_argument("--steps", type=whole_number, help="total number of steps to reach (overrides train.steps)")
    p.add_argument("--dry-run", action="store_true", help="build everything, run one batch, write nothing")
    p.add_argument("--init-from", metavar="FILE.safetensors",
                   help="start a new run's generator (and its EMA) from release weights; ignored when resuming. "
                        "Another architecture works too: every tensor whose name and shape match is loaded "
                        "(reported as 'init-from: loaded N/M tensors'); under half matching is refused")
    p.add_argument("--init-partial", action="store_true",
                   help="with --init-from: accept any non-zero fraction of matching tensors")
    p.add_argument("--time-limit", type=decimal_number, metavar="SECONDS",
                   help="stop at the first step boundary after SECONDS (counted from start-up), write the "
                        "checkpoint and exit 0; running the same command again resumes")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto: CUDA where available (cuda:LOCAL_RANK under torchrun), else CPU")


def start_up(device: str, time_limit: float | None) -> None:
    """What every training command does first: the allocator setting, cuDNN's autotuner, the time limit checked."""
    from irodori.data.runtime import tune_allocator

    import torch

    tune_allocator()  # before DataLoader workers fork: they inherit it (see irodori.data.runtime)
    if device != "cpu" and torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True  # fixed crop size: let cuDNN pick the fastest kernels once
    if time_limit is not None and time_limit <= 0:
        raise ConfigError(f"--time-limit must be positive, got {time_limit}")


def run(args) -> int:
    from irodori.train.loop import train

    start_up(args.device, args.time_limit)
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    cfg = load_config(args.config, overrides)
    result = train(cfg, args.out, dry_run=args.dry_run, init_from=args.init_from, init_partial=args.init_partial,
                   time_limit=args.time_limit, device=args.device)
    if args.dry_run:
        return 0
    terms = " ".join(f"{k}={v:.4f}" for k, v in result.items() if k not in ("step", "interrupted", "time_limit"))
    print(f"step={result['step']} {terms}")
    return 130 if result.get("interrupted") else 0
