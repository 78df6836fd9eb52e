"""Evaluation: per-image metrics (a plain dict registry), FID with registered feature extractors,
the evaluation runner with fixed seeded hints, and the small-scale Table 1."""

from irodori.eval.evaluate import SET_METRICS, evaluate, load_openmoji_split
from irodori.eval.fid import EXTRACTORS, FID, frechet_distance
from irodori.eval.metrics import METRICS, color_bleeding

__all__ = ["METRICS", "SET_METRICS", "EXTRACTORS", "FID", "frechet_distance", "color_bleeding", "evaluate",
           "load_openmoji_split"]
