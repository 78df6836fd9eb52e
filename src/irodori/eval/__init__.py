"""Evaluation: per-image metrics (a plain dict registry), FID with registered feature networks,
the evaluation runner with fixed seeded hints, and the small-scale Table 1."""

from irodori.eval.evaluate import SET_METRICS, evaluate, load_openmoji_split
from irodori.eval.fid import FEATURE_NETS, FID, frechet_distance
from irodori.eval.metrics import METRICS, color_bleeding

__all__ = ["METRICS", "SET_METRICS", "FEATURE_NETS", "FID", "frechet_distance", "color_bleeding", "evaluate",
           "load_openmoji_split"]
