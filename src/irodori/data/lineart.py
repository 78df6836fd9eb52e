"""Line-art extraction from color illustrations (paper §4.1): pure functions of (image, rng).

Every extractor takes an ``H×W×3 uint8`` RGB image (an ``H×W`` greyscale one also works) and a
``numpy.random.Generator``, draws its own parameters from documented ranges so line weight and
tone vary between samples, and returns an ``H×W float32`` array in [0, 1] with white paper = 1.

The paper mixes XDoG, sketchKeras and Sketch Simplification with p = 0.1 / 0.5 / 0.4.
:data:`LINE_EXTRACTORS` names the classical extractors, which always run; :data:`LEARNED_EXTRACTORS`
names the two networks (:mod:`irodori.extractors`), which run once their converted weights are
found. :func:`check_methods` turns a mixture naming anything that cannot run into a
:class:`~irodori.errors.ConfigError` at start-up (for a network: which file is missing and the
``irodori convert-weights`` command that makes it), never a silent substitution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import cv2
import numpy as np

from irodori.errors import ConfigError
from irodori.extractors import extract_simplification, extract_sketchkeras, weights_problem

#: The paper's mixture (needs the two learned extractors).
PAPER_MIXTURE: dict[str, float] = {"xdog": 0.1, "sketchkeras": 0.5, "simplification": 0.4}
#: A mixture that runs with no weight files: two classical extractors.
OFFLINE_MIXTURE: dict[str, float] = {"xdog": 0.5, "morph": 0.5}


def luma(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Luma of ``H×W×3`` RGB or ``H×W`` grey as float32, and the value of white (255 for uint8 input, else 1)."""
    if image.dtype == np.uint8:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return grey.astype(np.float32), 255.0
    img = image.astype(np.float32, copy=False)
    return (img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)), 1.0


def _as_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return np.clip(image.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# XDoG (Winnemöller, Kyprianidis & Olsen 2012)


@dataclass(frozen=True)
class XDoGParams:
    """Parameters of the thresholded difference of Gaussians, in the tau form.

    ``D = G_sigma * I - tau * G_{k sigma} * I`` on luma I in [0, 1];
    ``T = 1`` where ``D >= eps``, else ``1 + tanh(phi * (D - eps))``.
    Line weight grows with ``sigma`` and ``k``; ``eps`` sets how weak an edge still draws;
    ``phi`` sets how hard the line edge is (1e9 would be a binary image).
    """

    sigma: float
    k: float
    tau: float
    eps: float
    phi: float


#: Ranges :func:`sample_xdog_params` draws from, uniformly (``phi`` log-uniformly). Centred on the
#: sketch setting of Ci et al. 2018 (sigma 0.3-0.5, k 4.5, tau 0.95, eps -0.1), widened so that
#: line weight and the amount of texture vary.
XDOG_RANGES = {
    "sigma": (0.3, 1.0),
    "k": (3.0, 5.0),
    "tau": (0.95, 0.98),
    "eps": (-0.15, -0.05),
    "phi": (50.0, 500.0),
}


def sample_xdog_params(rng: np.random.Generator) -> XDoGParams:
    r = XDOG_RANGES
    u = rng.random(5)
    lerp = lambda lo_hi, t: lo_hi[0] + (lo_hi[1] - lo_hi[0]) * float(t)  # noqa: E731
    phi = math.exp(lerp((math.log(r["phi"][0]), math.log(r["phi"][1])), u[4]))
    return XDoGParams(sigma=lerp(r["sigma"], u[0]), k=lerp(r["k"], u[1]), tau=lerp(r["tau"], u[2]),
                      eps=lerp(r["eps"], u[3]), phi=phi)


def xdog(grey: np.ndarray, params: XDoGParams, white: float = 1.0) -> np.ndarray:
    """XDoG of an ``H×W float32`` luma image in [0, ``white``] -> ``H×W float32`` in [0, 1]."""
    small = cv2.GaussianBlur(grey, (0, 0), params.sigma, borderType=cv2.BORDER_REFLECT)
    large = cv2.GaussianBlur(grey, (0, 0), params.sigma * params.k, borderType=cv2.BORDER_REFLECT)
    # u = phi * (small - tau * large) / white - phi * eps, in one pass; T = 1 + tanh(min(u, 0)).
    # Written into `small` (fewer fresh MB-sized buffers: their page faults cost more than the math).
    a = params.phi / white
    u = cv2.addWeighted(small, a, large, -params.tau * a, -params.phi * params.eps, dst=small)
    np.minimum(u, 0.0, out=u)  # white (tanh(0) = 0) wherever D >= eps
    np.tanh(u, out=u)
    u += 1.0
    return u


def extract_xdog(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """XDoG line art with parameters drawn from :data:`XDOG_RANGES`."""
    grey, white = luma(image)
    return xdog(grey, sample_xdog_params(rng), white)


# ---------------------------------------------------------------------------
# Morphological extractor: dilation minus original


#: Ranges for :func:`extract_morph`: kernel side (3 -> thin, 5 -> bold lines, chosen 60/40),
#: a noise floor removed after normalization, and a gain that darkens weak edges.
MORPH_RANGES = {"kernel": (3, 5), "floor": (0.03, 0.12), "gain": (1.2, 2.5)}


def extract_morph(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Classical line art: ``max_c(dilate(I_c) - I_c)``, normalized by its maximum.

    Dilation spreads the paper into dark strokes, so the difference marks the dark side of every
    edge (of any color channel, so iso-luminant color edges also draw). The result is divided by
    its maximum (at least 32/255, so a nearly flat image does not amplify noise), a random noise
    floor is removed, a random gain applied, and it is inverted to white paper.
    """
    r = MORPH_RANGES
    u = rng.random(3)
    ksize = r["kernel"][0] if u[0] < 0.6 else r["kernel"][1]
    floor = r["floor"][0] + (r["floor"][1] - r["floor"][0]) * float(u[1])
    gain = r["gain"][0] + (r["gain"][1] - r["gain"][0]) * float(u[2])

    img = _as_uint8(image)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ksize, ksize))
    diff = cv2.subtract(cv2.dilate(img, kernel, borderType=cv2.BORDER_REPLICATE), img)
    if diff.ndim == 3:
        diff = cv2.max(cv2.max(diff[:, :, 0], diff[:, :, 1]), diff[:, :, 2])
    peak = max(float(cv2.minMaxLoc(diff)[1]), 32.0)
    # line = 1 - clip((diff / peak - floor) * gain, 0, 1), as one affine map then a clip.
    scale = gain / (peak * (1.0 - floor))
    out = diff.astype(np.float32)
    out *= np.float32(-scale)
    out += np.float32(1.0 + gain * floor / (1.0 - floor))
    np.clip(out, 0.0, 1.0, out=out)
    return out


# ---------------------------------------------------------------------------
# Registry and mixture

#: A line extractor: ``(H×W×3 uint8 RGB, generator) -> H×W float32`` in [0, 1], white paper = 1.
LineExtractor = Callable[[np.ndarray, np.random.Generator], np.ndarray]

#: The classical extractors, by the name used in ``data.line_methods``: they always run.
LINE_EXTRACTORS: dict[str, LineExtractor] = {
    "xdog": extract_xdog,
    "morph": extract_morph,
}


#: The learned extractors (:mod:`irodori.extractors`), by method name. Each loads its converted
#: weights once per process (each DataLoader worker its own copy) and runs with one thread under
#: ``torch.inference_mode``; they are deterministic (``rng`` unused). They run only when
#: :func:`check_methods` finds their weights.
LEARNED_EXTRACTORS: dict[str, LineExtractor] = {
    "sketchkeras": extract_sketchkeras,
    "simplification": extract_simplification,
}


def unavailable_reason(name: str) -> str | None:
    """None if method ``name`` can run here, else why not."""
    if name in LINE_EXTRACTORS:
        return None
    if name in LEARNED_EXTRACTORS:
        return weights_problem(name)
    return "unknown method"


def check_methods(line_methods: Mapping[str, float]) -> None:
    """Fail with :class:`ConfigError` unless every named method can run and the probabilities sum to 1.

    Called by the trainer (and :func:`irodori.data.build_dataset`) at start-up. A method named with
    probability 0 must still exist: a config never names something that cannot run. A learned
    method can run when its converted weights are found (header checked; the content hash is
    verified when the network is loaded).
    """
    methods = dict(line_methods)
    if not methods:
        raise ConfigError("data.line_methods is empty; name at least one line extraction method")
    problems = {name: why for name in methods if (why := unavailable_reason(name)) is not None}
    if problems:
        lines = [f"{name!r} ({why})" for name, why in problems.items()]
        offline = ", ".join(f"{k}: {v}" for k, v in OFFLINE_MIXTURE.items())
        raise ConfigError(
            f"data.line_methods names line extraction method(s) that cannot run: {'; '.join(lines)}.\n"
            f"Methods: {', '.join(LINE_EXTRACTORS)} (always), {', '.join(LEARNED_EXTRACTORS)} (with converted "
            f"weights). Convert the missing weights, or state a mixture that runs without them explicitly, "
            f"e.g. data.line_methods='{{{offline}}}'")
    probs = list(methods.values())
    if any(not isinstance(p, (int, float)) or p < 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-6:
        raise ConfigError(f"data.line_methods must be non-negative probabilities summing to 1, got {methods}")


def choose_method(mixture: Mapping[str, float], rng: np.random.Generator) -> str:
    """One method name drawn from ``mixture`` (name -> probability); checked like :func:`check_methods`."""
    check_methods(mixture)
    u = rng.random()
    total = 0.0
    last = None
    for name, p in mixture.items():
        if p <= 0:
            continue
        total += p
        last = name
        if u < total:
            return name
    return last  # u landed in the rounding slack above the cumulative sum


def extract_lineart(image: np.ndarray, method: str, rng: np.random.Generator,
                    *, mixture: Mapping[str, float] | None = None) -> np.ndarray:
    """Line art of ``image`` (``H×W×3 uint8`` RGB) as ``H×W float32`` in [0, 1], white paper = 1.

    ``method`` is a name in :data:`LINE_EXTRACTORS` or :data:`LEARNED_EXTRACTORS`, or ``"mixture"``
    to draw one per call from ``mixture`` (name -> probability; default :data:`PAPER_MIXTURE`, which
    raises :class:`ConfigError` unless the learned extractors' weights are found).
    """
    if method == "mixture":
        method = choose_method(PAPER_MIXTURE if mixture is None else mixture, rng)
    fn = LINE_EXTRACTORS.get(method) or LEARNED_EXTRACTORS.get(method)
    if fn is None:
        check_methods({method: 1.0})  # raises with the explanation
    return fn(image, rng)


# ---------------------------------------------------------------------------
# Line-style augmentation of real line art (a pair's drawing is one artist's style; vary it)


def augment_lines(line: np.ndarray, rng: np.random.Generator, p_width: float = 0.5, p_gaps: float = 0.3,
                  p_grey: float = 0.5, p_jitter: float = 0.3) -> np.ndarray:
    """A restyled copy of ``line`` (``H×W float32`` in [0, 1], white paper = 1), each change drawn
    independently with its probability:

    - width (``p_width``): lines 1 px thicker (grey erosion), or 1 px thinner where they are at
      least 3 px wide (thinner strokes are kept whole);
    - gaps (``p_gaps``): 1-6 short breaks, white discs of radius 1-2 px on ink pixels;
    - grey and anti-aliased (``p_grey``): a Gaussian blur of sigma 0.4-1.0 px, then the tones
      stretched so that the darkest ink lies at a level in [0, 0.5];
    - jitter (``p_jitter``): a smooth random warp of at most 1 px (line and color slightly misregistered,
      as in traced drawings).

    White paper stays exactly white away from the lines (every change keeps values in [0, 1] and
    leaves pixels farther than ~3 px from ink at 1).
    """
    out = np.array(line, np.float32, copy=True)
    h, w = out.shape
    k = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    if rng.random() < p_width:
        if rng.random() < 0.5:
            out = cv2.erode(out, k)
        else:
            # Thin only next to stroke cores (ink at least 2 px from paper, chessboard distance): strokes
            # 3 px wide or more lose 1 px per side, 1-2 px strokes and their junctions stay whole.
            depth = cv2.distanceTransform((out < 0.5).astype(np.uint8), cv2.DIST_C, 3)
            near_core = cv2.dilate((depth >= 2).astype(np.uint8), k) > 0
            out = np.where(near_core, cv2.dilate(out, k), out)
    if rng.random() < p_gaps:
        ys, xs = np.nonzero(out < 0.5)
        if len(ys):
            for i in rng.integers(0, len(ys), size=int(rng.integers(1, 6, endpoint=True))).tolist():
                cv2.circle(out, (int(xs[i]), int(ys[i])), int(rng.integers(1, 2, endpoint=True)), 1.0, -1)
    if rng.random() < p_grey:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.0)))
        darkest = float(out.min())
        if darkest < 1.0:  # re-level: the darkest ink (a blurred 1 px line too) lands at `level`
            level = float(rng.uniform(0.0, 0.5))
            out = 1.0 - (1.0 - out) * ((1.0 - level) / (1.0 - darkest))
    if rng.random() < p_jitter:
        field = rng.uniform(-1.0, 1.0, size=(2, 4, 4)).astype(np.float32)
        dx, dy = (cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in field)
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        out = cv2.remap(out, gx + np.clip(dx, -1, 1), gy + np.clip(dy, -1, 1), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    return np.clip(out, 0.0, 1.0, out=out)
