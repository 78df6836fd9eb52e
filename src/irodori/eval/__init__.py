"""Evaluation: per-image metrics in a registry, and the evaluation runner."""

from irodori.eval.metrics import METRICS

__all__ = ["METRICS"]
