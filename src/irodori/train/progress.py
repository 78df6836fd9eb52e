"""What a training run reports while it runs: loss terms averaged between log lines, images/s, sample grids.

On the main rank only: TensorBoard scalars and images under ``OUT/tb``, a progress bar on a terminal, and
a plain line now and then when the output is a log file (CI, a scheduler).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

#: Loss terms that are D's scores rather than losses (logged under ``d_score/``).
D_SCORES = ("d_real", "d_fake", "d_wdist")


def hint_preview(hint: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hint * mask + (1 - mask)  # white where there is no hint


def image_grid(batch: dict, out: torch.Tensor, n: int = 4) -> torch.Tensor:
    """Rows: line | hints | output | ground truth; returns CHW in [0, 1]."""
    n = min(n, out.shape[0])
    cols = [batch["line"][:n].expand(-1, 3, -1, -1), hint_preview(batch["hint"][:n], batch["mask"][:n]),
            out[:n].clamp(-1, 1), batch["color"][:n]]
    rows = [torch.cat([c[i] for c in cols], 2) for i in range(n)]
    return (torch.cat(rows, 1) + 1) / 2


class Progress:
    """Averages the loss terms between log lines (summed on the device: no host sync per step) and
    writes them; ``log`` receives the plain lines."""

    def __init__(self, out_dir: Path, steps: int, start: int, batch_size: int, log_every: int,
                 log: Callable[[str], None] = print):
        self.steps, self.batch_size, self.log_every, self.log = steps, batch_size, log_every, log
        self.writer = SummaryWriter(str(out_dir / "tb"))
        self.bar = tqdm(total=steps, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr, disable=None)
        self.t0, self.n0 = time.perf_counter(), start
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.last: dict[str, float] = {}

    def images_per_s(self, step: int) -> float:
        elapsed = time.perf_counter() - self.t0
        return (step - self.n0) * self.batch_size / elapsed if elapsed > 0 else float("nan")

    def step(self, step: int, terms: dict[str, torch.Tensor], lr: float) -> None:
        """Record one optimizer step's terms; every ``log_every`` steps (and at the end) write their mean."""
        for k, v in terms.items():
            self.sums[k] = self.sums.get(k, 0) + v
        self.count += 1
        self.bar.update(1)
        if step % self.log_every and step != self.steps:
            return
        avg = {k: float(v) / self.count for k, v in self.sums.items()}
        self.sums, self.count, self.last = {}, 0, avg
        ips = self.images_per_s(step)
        for k, v in avg.items():
            self.writer.add_scalar(f"{'d_score' if k in D_SCORES else 'loss'}/{k}", v, step)
        self.writer.add_scalar("perf/images_per_s", ips, step)
        self.writer.add_scalar("train/lr", lr, step)
        if not self.bar.disable:
            self.bar.set_postfix(g=f"{avg.get('g_total', 0):.3f}", d=f"{avg.get('d_loss', 0):.3f}",
                                 img_s=f"{ips:.1f}", refresh=False)
        elif step % (self.log_every * 10) == 0 or step == self.steps:
            eta = (self.steps - step) * self.batch_size / max(ips, 1e-9)
            self.log(f"step {step}/{self.steps} " + " ".join(f"{k}={v:.4f}" for k, v in avg.items())
                     + f" images/s={ips:.1f} eta={eta / 60:.0f}min")

    @torch.no_grad()
    def samples(self, step: int, G: torch.nn.Module, batch: dict, device: torch.device) -> None:
        out = G(*(batch[k].to(device) for k in ("line", "hint", "mask")))
        self.writer.add_image("samples/line_hints_output_truth", image_grid(batch, out.float().cpu()), step)

    def close(self) -> None:
        self.bar.close()
        self.writer.close()
