"""Parameter and MAC counts, and a module summary table (stylegan3 style), without any weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass
class Row:
    name: str
    params: int
    trainable: int
    shape: str


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _rows_modules(model: nn.Module):
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleList):
            for i, sub in enumerate(child):
                yield f"{name}.{i}", sub
        else:
            yield name, child


def _shape_of(out) -> str:
    if isinstance(out, torch.Tensor):
        return "x".join(str(s) for s in out.shape)
    if isinstance(out, (tuple, list)) and out:
        return _shape_of(out[0])
    if isinstance(out, dict) and out:
        return _shape_of(next(iter(out.values())))
    return "-"


def generator_inputs(batch: int, size: int, device="cpu") -> tuple[torch.Tensor, ...]:
    line = torch.zeros(batch, 1, size, size, device=device)
    hint = torch.zeros(batch, 3, size, size, device=device)
    mask = torch.zeros(batch, 1, size, size, device=device)
    return line, hint, mask


def summarize(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[list[Row], int]:
    """Run one forward on ``inputs`` (meta tensors work: no weights, no compute) and return rows and MACs."""
    shapes: dict[str, str] = {}
    handles = []
    named = list(_rows_modules(model))
    for name, mod in named:
        handles.append(mod.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, _shape_of(o))))
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    rows = [Row(n, count_params(m), count_params(m, True), shapes.get(n, "-")) for n, m in named]
    return rows, counter.get_total_flops() // 2


def format_table(rows: list[Row]) -> str:
    header = ("module", "params", "trainable", "output")
    body = [(r.name, f"{r.params:,}", f"{r.trainable:,}", r.shape) for r in rows]
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(4)]
    line = lambda cols: "  ".join(c.ljust(w) if i in (0, 3) else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cols, widths)))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(b) for b in body), sep])
