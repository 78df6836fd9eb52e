"""Training-step throughput of a preset on CUDA without data loading (bf16 autocast, channels-last),
as the trainer runs it: `PYTHONPATH=src python3 benchmarks/gpu_step.py demo-256 --batch 64 --size 256`."""

import argparse
import time

import torch

from irodori.config import load_config
from irodori.models import build_discriminator, build_generator
from irodori.train.loop import micro_step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("preset")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    cfg = load_config(args.preset)
    fmt = torch.channels_last
    G = build_generator(cfg.generator).to(dev, memory_format=fmt)
    D = build_discriminator(cfg.discriminator).to(dev, memory_format=fmt)
    opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    b, s = args.batch, args.size
    batch = {"line": torch.rand(b, 1, s, s) * 2 - 1, "hint": torch.rand(b, 3, s, s) * 2 - 1,
             "mask": (torch.rand(b, 1, s, s) > 0.99).float(), "color": torch.rand(b, 3, s, s) * 2 - 1}
    batch = {k: v.pin_memory() for k, v in batch.items()}
    autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    for i in range(args.n + 5):
        if i == 5:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        opt_g.zero_grad(set_to_none=True)
        opt_d.zero_grad(set_to_none=True)
        micro_step(G, D, D, batch, cfg.loss, device=dev, autocast=autocast, channels_last=True)
        opt_g.step()
        opt_d.step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.n
    print(f"{args.preset} {s}px batch {b}: {dt * 1000:.1f} ms/step, {b / dt:.0f} images/s (no data loading), "
          f"peak mem {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
