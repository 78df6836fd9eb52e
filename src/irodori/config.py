"""Typed, frozen configuration loaded from YAML presets with dotted overrides.

A preset file may name a ``base`` preset; its keys are merged over the base's.
Every key is checked against the dataclass fields, and every value against the
field's type, so a typo fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from irodori.errors import ConfigError
from irodori.userfiles import read_text

CONFIG_DIR = Path(__file__).parent / "configs"

#: The preset registry: name -> YAML file shipped in ``irodori/configs``.
PRESETS: dict[str, str] = {name: f"{name}.yaml" for name in (
    "paper", "no-attention", "secat", "pix2pixhd", "demo", "demo-no-attention", "demo-pix2pixhd", "demo-alacgan",
    "demo-256", "demo-256-no-attention", "demo-256-cpu", "demo-256-region", "demo-256-pix2pixhd", "demo-256-alacgan",
    "demo-256-secat", "tiny")}

# Allowed values, next to the fields that take them (checked when a config is loaded).
Arch = Literal["unet", "pix2pixhd", "alacgan"]
Block = Literal["csa", "none", "secat"]
Attention = Literal["spatial", "channel"]
HintEncoderKind = Literal["vgg19", "learned"]
Norm = Literal["none", "instance", "batch"]
Output = Literal["tanh", "residual"]
Upsample = Literal["transposed", "resize"]
FullRes = Literal["conv", "unshuffle"]
DiscriminatorNorm = Literal["none", "instance"]
Adversarial = Literal["bce", "lsgan", "hinge", "wgan-gp"]
Perceptual = Literal["vgg19", "none"]
Dataset = Literal["synthetic", "folder", "openmoji", "danbooru", "corpus"]
#: Numeric precision of a forward pass: ``auto`` = bf16 where the device computes it natively, else fp32.
Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = typing.get_args(Precision)
#: The working resolution (long side, px) a caller may ask a model to run at, inclusive.
RESOLUTION_RANGE = (16, 4096)
#: The working long side (px) the CLI, the API and the page use unless told otherwise, whatever the drawing's size
#: (chosen on the validation splits and by time: README, "Working size").
WORKING_SIZE = 512


@dataclass(frozen=True)
class GeneratorConfig:
    arch: Arch = "unet"
    #: Encoder widths: stem, then one entry per downsampling (U-Net: 4 downsamplings).
    channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    num_blocks: int = 8
    block: Block = "csa"
    attention: Attention = "spatial"
    hint_encoder: HintEncoderKind = "vgg19"
    #: Width of the 3-conv hint head inside each block.
    hint_channels: int = 256
    #: Hidden width of the 2-conv attention branch.
    attention_channels: int = 128
    #: Width of the learned hint encoder (only when hint_encoder == "learned"); for arch alacgan, the widths
    #: of the learned line-feature encoder that stands in for Illustration2Vec.
    learned_encoder_channels: tuple[int, ...] = (32, 64, 128, 256)
    norm: Norm = "none"
    output: Output = "tanh"
    #: U-Net decoder upsampling: ``transposed`` (paper: 4x4 stride-2 transposed conv) or ``resize``
    #: (nearest x2 + 3x3 conv, no checkerboard in flat fills).
    upsample: Upsample = "transposed"
    #: U-Net full-resolution stage: ``conv`` (paper: 3x3 stem conv at H) or ``unshuffle`` (pixel-unshuffle
    #: x2 of the input, every stage at half resolution, pixel-shuffle output head; inputs a multiple of 32).
    full_res: FullRes = "conv"

    def __post_init__(self):
        if self.arch != "unet" and (self.upsample, self.full_res) != ("transposed", "conv"):
            raise ConfigError("generator.upsample and generator.full_res apply to the U-Net (arch unet) only")
        if self.arch == "unet" and len(self.channels) != 5:
            raise ConfigError("generator.channels must list 5 widths (stem + 4 downsamplings) for the U-Net")
        if self.arch == "alacgan" and (len(self.channels) != 5 or len(self.learned_encoder_channels) != 4):
            raise ConfigError("alacgan needs 5 generator.channels (H, H/2, H/4, H/8, tunnel) and 4 "
                              "generator.learned_encoder_channels (its line-feature encoder, down to H/8)")
        if self.arch == "pix2pixhd" and len(self.channels) < 2:
            raise ConfigError("generator.channels must list at least 2 widths for pix2pixhd")
        if any(c <= 0 for c in self.channels) or self.num_blocks < 0:
            raise ConfigError("generator widths must be positive and num_blocks >= 0")
        if self.hint_encoder == "learned" and len(self.learned_encoder_channels) != 4:
            raise ConfigError("generator.learned_encoder_channels must list 4 widths (down to H/8)")


@dataclass(frozen=True)
class DiscriminatorConfig:
    num_d: int = 3
    ndf: int = 64
    n_layers: int = 3
    norm: DiscriminatorNorm = "instance"

    def __post_init__(self):
        if self.num_d < 1 or self.n_layers < 1 or self.ndf < 1:
            raise ConfigError("discriminator.num_d, n_layers and ndf must be >= 1")


@dataclass(frozen=True)
class LossConfig:
    adversarial: Adversarial = "bce"
    lambda_fm: float = 10.0
    lambda_perc: float = 10.0
    lambda_l1: float = 0.0
    #: Extra L1 over the hinted pixels only (not in the paper; 0 keeps Eq. 4 as published).
    lambda_hint: float = 0.0
    #: Weight of the adversarial term in G's objective (AlacGAN weighs its WGAN term down).
    lambda_adv: float = 1.0
    #: Extra L1 over the ground-truth regions that region hints were drawn from (not in the paper; teaches the
    #: network to spread a hint over its region; needs data.scribble_prob > 0).
    lambda_region: float = 0.0
    #: Gradient-penalty weight (adversarial == "wgan-gp" only).
    lambda_gp: float = 10.0
    perceptual: Perceptual = "vgg19"
    #: Optional explicit path to the ImageNet VGG19 weights (else env var / cache dir).
    vgg19_weights: str = ""


@dataclass(frozen=True)
class DataConfig:
    dataset: Dataset = "synthetic"
    root: str = ""
    metadata: str = ""
    split: str = "train"
    size: int = 512
    #: Line extraction mixture: method name -> probability (must sum to 1).
    line_methods: dict = field(default_factory=lambda: {"xdog": 0.1, "sketchkeras": 0.5, "simplification": 0.4})
    #: OpenMoji: probability of extracting line art from the color image instead of the real drawing.
    extract_prob: float = 0.0
    hint_p: float = 0.125
    hint_max_size: int = 8
    stroke_prob: float = 0.0
    #: Probability of Hint-AUC style region scribbles/dots instead of the paper's patches (data.hints).
    scribble_prob: float = 0.0
    #: Probability of restyling real line art (width, gaps, grey/anti-aliased, jitter; data.lineart).
    line_aug: float = 0.0
    #: Corpus (``data.dataset: corpus``): source name -> sampling weight; empty = every present source,
    #: weighted by its number of images (see :class:`irodori.data.corpus.CorpusPairs`).
    sources: dict = field(default_factory=dict)
    #: Corpus and OpenMoji: the crop's side as a fraction of the image's short side, (low, high), resized to size.
    crop_scale: tuple[float, ...] = (0.75, 1.0)
    num_workers: int = 2

    def __post_init__(self):
        if self.size < 16 or self.size % 16:
            raise ConfigError(f"data.size must be a positive multiple of 16, got {self.size}")
        probs = dict(self.line_methods)
        if not probs or any(p < 0 for p in probs.values()) or abs(sum(probs.values()) - 1) > 1e-6:
            raise ConfigError(f"data.line_methods must be non-negative probabilities summing to 1, got {probs}")
        for name in ("extract_prob", "hint_p", "stroke_prob", "scribble_prob", "line_aug"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ConfigError(f"data.{name} must lie in [0, 1], got {v}")
        if self.hint_max_size < 1:
            raise ConfigError("data.hint_max_size must be >= 1")
        if len(self.crop_scale) != 2 or not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ConfigError(f"data.crop_scale must be (low, high) with 0 < low <= high <= 1, got {self.crop_scale}")
        bad = {k: v for k, v in dict(self.sources).items()
               if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0}
        if bad or (self.sources and not any(v > 0 for v in dict(self.sources).values())):
            raise ConfigError(f"data.sources must map source names to non-negative weights, some positive; "
                              f"got {dict(self.sources)}")


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 2e-4
    #: Decay both learning rates linearly to 0 over the last N of ``steps`` (pix2pixHD); 0 = constant (paper).
    lr_decay_steps: int = 0
    betas: tuple[float, ...] = (0.5, 0.999)
    ema_decay: float = 0.999
    steps: int = 200_000
    ckpt_every: int = 1000
    keep: int = 3
    log_every: int = 10
    sample_every: int = 500
    seed: int = 0
    #: Autocast precision of the forward passes: ``auto`` = bf16 where the device computes it natively
    #: (CUDA with bf16; CPUs with AMX or AVX-512 BF16, 2.1x the fp32 images/s of `demo` on this
    #: project's Xeon), else fp32; ``fp32``; ``bf16``. Weights and optimizer state stay fp32.
    precision: Precision = "auto"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ConfigError("train.batch_size and train.grad_accum must be >= 1")
        if len(self.betas) != 2:
            raise ConfigError("train.betas must hold 2 values")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError("train.ema_decay must lie in [0, 1)")
        if not 0 <= self.lr_decay_steps <= self.steps:
            raise ConfigError(f"train.lr_decay_steps must lie in [0, train.steps], got {self.lr_decay_steps}")
        if self.ckpt_every < 1 or self.keep < 1:
            raise ConfigError("train.ckpt_every and train.keep must be >= 1")


@dataclass(frozen=True)
class Config:
    name: str = "custom"
    description: str = ""
    #: Each way this preset departs from the paper, in words.
    deviations: tuple[str, ...] = ()
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return _to_plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------------------
# Loading


def _to_plain(obj):
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _coerce(path: str, value: Any, typ: Any) -> Any:
    origin = typing.get_origin(typ)
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return _build(typ, value, path)
    if origin is tuple:
        (item_t, *_rest) = typing.get_args(typ)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return tuple(_coerce(f"{path}[{i}]", v, item_t) for i, v in enumerate(value))
    if typ is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return {str(k): float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                for k, v in value.items()}
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if origin is Literal:
        choices = typing.get_args(typ)
        if value not in choices:
            raise ConfigError(f"{path}: {value!r} is not one of {', '.join(choices)}")
        return value
    if typ is str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    return value


def _build(cls, data: Mapping, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = prefix or "config"
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(names))}")
    kwargs = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        kwargs[key] = _coerce(path, value, hints[key])
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix or 'config'}: {exc}") from exc


def _deep_merge(base: dict, over: Mapping) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k != "line_methods":
            out[k] = _deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(read_text(path, "config file", ConfigError))  # a FIFO or a device is refused
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def _raw(name_or_path: str, seen: tuple = ()) -> dict:
    if name_or_path in seen:
        raise ConfigError(f"preset inheritance loops through {name_or_path!r}")
    if name_or_path in PRESETS:
        path = CONFIG_DIR / PRESETS[name_or_path]
    elif name_or_path.endswith((".yaml", ".yml")) or os.path.lexists(name_or_path):  # a device: refused by kind
        path = Path(name_or_path)
    else:
        raise ConfigError(f"unknown preset {name_or_path!r}; presets: {', '.join(PRESETS)} (or a path to a YAML file)")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base:
        data = _deep_merge(_raw(str(base), seen + (name_or_path,)), data)
    return data


_WHOLE = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def whole_number(text: str) -> int:
    """``text`` as an int when it is plain ASCII digits with an optional minus; ``ValueError`` otherwise. Python's
    ``int`` also takes spaces around, ``1_024`` and other scripts' digits (``١٠٢٤``, ``１０２４``): a number a
    user typed by mistake, or one crafted to pass one parser and not another, is refused instead."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text) or len(text) > 30:
        raise ValueError(f"not a whole number: {text!r}")
    return int(text)


def decimal_number(text: str) -> float:
    """``text`` as a float when it is a plain ASCII decimal (``2``, ``-0.5``, ``1e3``); ``ValueError`` otherwise
    (see :func:`whole_number`; ``nan`` and ``inf`` are refused too)."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text) or len(text) > 60:
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def load_config(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a preset name or YAML path, apply ``a.b=c`` overrides, validate and return a frozen Config."""
    data = _raw(name_or_path)
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {k} is not a section")
        node[keys[-1]] = value
    if name_or_path not in PRESETS and "name" not in _read_yaml(Path(name_or_path)):
        data["name"] = Path(name_or_path).stem  # a user's file is named after itself, not its base
    return _build(Config, data)


def config_from_dict(data: Mapping) -> Config:
    return _build(Config, data)
