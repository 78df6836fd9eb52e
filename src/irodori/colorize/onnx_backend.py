"""ONNX export of a generator's flat-color path, and an ONNX Runtime stand-in for the torch module.

:func:`export_onnx` writes ``G(line, hint, mask, flat=True)`` as an ONNX graph with named inputs
``line`` (N,1,H,W), ``hint`` (N,3,H,W), ``mask`` (N,1,H,W) and output ``flat`` (N,3,H,W), batch,
height and width dynamic (H and W multiples of the generator's ``multiple``). The model config,
irodori version, native size and multiple travel in the file's ``metadata_props``, so
:class:`OnnxGenerator` needs nothing but the file. :func:`cached_onnx_generator` exports a model
once into the cache dir, keyed by a hash of its weights and config.

Needs the optional packages ``onnx`` and ``onnxruntime`` (``pip install 'irodori[onnx]'``);
they are imported only when used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from irodori import __version__
from irodori.atomic import atomic_write_bytes
from irodori.config import Config, config_from_dict
from irodori.errors import ConfigError, IrodoriError
from irodori.weights import cache_dir

INPUT_NAMES = ("line", "hint", "mask")
OUTPUT_NAME = "flat"
DEFAULT_OPSET = 17
#: Bump when the exported graph's interface or metadata changes: old cache entries are then ignored.
FORMAT_VERSION = 1
_META = "irodori."


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise IrodoriError(f"the ONNX backend needs the `{module}` package: pip install 'irodori[onnx]'") from None


class FlatOutput(nn.Module):
    """``forward(line, hint, mask) -> G(line, hint, mask, flat=True)``: the path the pipeline runs."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, line: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.generator(line, hint, mask, flat=True)


def export_onnx(generator: nn.Module, config: Config, out: str | os.PathLike, *, opset: int = DEFAULT_OPSET,
                metadata: dict[str, str] | None = None) -> Path:
    """Write ``generator``'s flat output as ONNX to ``out`` (temp file + rename; nothing is left on failure).

    ``metadata`` adds string entries (e.g. the model's source) to the ones every export carries:
    ``irodori.config`` (JSON), ``irodori.version``, ``irodori.native_size``, ``irodori.multiple``.
    """
    onnx = _require("onnx")
    if not isinstance(generator, nn.Module):
        raise IrodoriError("only a torch generator can be exported (this model is already an ONNX one)")
    out = Path(out)
    multiple = int(getattr(generator, "multiple", 16))
    param = next(generator.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    # A small non-square example: batch, height and width are exported as named dynamic axes.
    h, w = 2 * multiple, 3 * multiple
    example = (torch.zeros(1, 1, h, w, device=device), torch.zeros(1, 3, h, w, device=device),
               torch.zeros(1, 1, h, w, device=device))
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    # The graph is the eval-mode forward. The exporter sets the wrapper's mode back afterwards, which
    # recurses into the generator, so every submodule's own mode is restored explicitly.
    modes = {m: m.training for m in generator.modules()}
    wrapper = FlatOutput(generator).eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter warns that it is deprecated, and the tracer warns about the two
            # Python-level shape tests in the generators (the multiple-of-16 check and the hint head's
            # resize, never taken at multiples of 16). Neither becomes part of the graph; the parity
            # tests run the export at several sizes.
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, example, buf, input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; all mean "cannot export"
        raise IrodoriError(f"cannot export the generator to ONNX (opset {opset}): {exc}") from exc
    finally:
        for m, training in modes.items():
            m.training = training
    model = onnx.load_from_string(buf.getvalue())
    meta = {"config": json.dumps(config.to_dict()), "version": __version__, "native_size": str(config.data.size),
            "multiple": str(multiple), "format": str(FORMAT_VERSION), **(metadata or {})}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = _META + key, str(value)
    model.producer_name, model.producer_version = "irodori", __version__
    onnx.checker.check_model(model)
    atomic_write_bytes(out, lambda f: f.write(model.SerializeToString()))
    return out


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``irodori.*`` metadata of an exported file, without the prefix (empty if it has none)."""
    onnx = _require("onnx")
    model = onnx.load(str(path), load_external_data=False)
    return {p.key[len(_META):]: p.value for p in model.metadata_props if p.key.startswith(_META)}


class OnnxGenerator:
    """An exported generator run by ONNX Runtime on the CPU, called like the torch module:
    ``(line, hint, mask, flat=True) -> torch.Tensor``. ``config``, ``multiple`` and ``metadata`` come
    from the file. ``threads``: intra-op threads (default: ``torch.get_num_threads()``, which
    :func:`irodori.threads.apply` sets); idle ones sleep rather than spin."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        ort = _require("onnxruntime")
        self.path = Path(path)
        if not self.path.is_file():
            raise IrodoriError(f"ONNX model not found: {self.path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning, like torch's under irodori.threads.configure_openmp:
        # spinning takes cores from the user's other programs and, under load, from the busy thread.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors share no useful base class
            raise IrodoriError(f"cannot load ONNX model {self.path}: {exc}") from exc
        self.metadata = {k[len(_META):]: v for k, v in self.session.get_modelmeta().custom_metadata_map.items()
                         if k.startswith(_META)}
        names = tuple(i.name for i in self.session.get_inputs())
        if "config" not in self.metadata or names != INPUT_NAMES:
            raise IrodoriError(f"{self.path} is not a generator exported by `irodori export-onnx` "
                               f"(inputs {names}, metadata keys {sorted(self.metadata)})")
        try:
            self.config = config_from_dict(json.loads(self.metadata["config"]))
        except (ValueError, ConfigError) as exc:
            raise IrodoriError(f"{self.path}: its stored config is invalid: {exc}") from exc
        self.multiple = int(self.metadata.get("multiple", 16))
        self.threads = opts.intra_op_num_threads

    def __repr__(self) -> str:
        return f"OnnxGenerator({str(self.path)!r}, threads={self.threads})"

    def run(self, line, hint, mask):
        """One session run on numpy float32 arrays; returns the flat colors as a numpy array."""
        return self.session.run([OUTPUT_NAME], {"line": line, "hint": hint, "mask": mask})[0]

    def __call__(self, line: torch.Tensor, hint_rgb: torch.Tensor, mask: torch.Tensor,
                 flat: bool = True) -> torch.Tensor:
        if not flat:
            raise ValueError("the ONNX export holds only the flat output; call it with flat=True")
        h, w = line.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"input size {h}x{w} is not a multiple of {self.multiple}; pad it first")
        to_np = lambda t: t.detach().to("cpu", torch.float32).contiguous().numpy()  # noqa: E731
        return torch.from_numpy(self.run(to_np(line), to_np(hint_rgb), to_np(mask)))


def model_digest(generator: nn.Module, config: Config, opset: int = DEFAULT_OPSET) -> str:
    """SHA-256 over the weights, the config and everything else that shapes the exported file."""
    h = hashlib.sha256()
    h.update(json.dumps({"config": config.to_dict(), "opset": opset, "format": FORMAT_VERSION,
                         "irodori": __version__, "torch": torch.__version__}, sort_keys=True).encode())
    for name, tensor in sorted(generator.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cached_onnx_generator(generator: nn.Module, config: Config, *, opset: int = DEFAULT_OPSET) -> OnnxGenerator:
    """An :class:`OnnxGenerator` for ``generator``, exported once into ``<cache dir>/onnx/`` under a hash
    of its weights and config (a changed model gets a new file; a cached file that fails to load is
    exported again)."""
    digest = model_digest(generator, config, opset)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.name) or "model"
    path = cache_dir() / "onnx" / f"{name}-{digest[:20]}.onnx"
    if path.is_file():
        try:
            return OnnxGenerator(path)
        except IrodoriError:
            pass  # unreadable (e.g. written by another onnx version): export it again
    export_onnx(generator, config, path, opset=opset)
    return OnnxGenerator(path)
