"""Reading a TF.js *layers* model: ``model.json`` and its ``.bin`` shards, or the same wrapped as JavaScript modules.

Some npm packages (nsfwjs) ship the model as JavaScript: ``model.min.js`` holds the model.json
object as a minified object literal (not JSON), ``group1-shardKofN.min.js`` a base64 string of
each ``.bin`` shard. :func:`read_tfjs_model` reads either layout and dequantizes every weight to
float32 (TF.js: ``q * scale + min`` for uint8/uint16; float16 and float32 as stored).
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from irodori.errors import ConvertError

# ---------------------------------------------------------------------------
# JavaScript object literals (the package's model.min.js is not JSON)

_TOKEN = re.compile(r"""\s*(?:
    (?P<punct>[{}\[\]:,])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<bang>!\s*[01])
  | (?P<ident>[A-Za-z_$][\w$]*)
)""", re.VERBOSE | re.DOTALL)
_IDENTS = {"true": True, "false": False, "null": None, "undefined": None}


class _JSParser:
    """Recursive descent over JSON plus what minifiers emit: bare keys, single quotes, ``!0``/``!1``,
    numbers like ``.5``, ``void 0``."""

    def __init__(self, text: str, pos: int = 0):
        self.text, self.pos = text, pos

    def _next(self):
        m = _TOKEN.match(self.text, self.pos)
        if not m:
            raise ConvertError(f"cannot parse the model literal near {self.text[self.pos:self.pos + 40]!r}")
        self.pos = m.end()
        return m.lastgroup, m.group(m.lastgroup)

    def _peek(self):
        saved = self.pos
        tok = self._next()
        self.pos = saved
        return tok

    @staticmethod
    def _string(raw: str) -> str:
        if raw[0] == "'":
            raw = '"' + raw[1:-1].replace('\\"', '"').replace('"', '\\"').replace("\\'", "'") + '"'
        raw = re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", raw)
        return json.loads(raw)

    def value(self):
        kind, tok = self._next()
        if kind == "punct" and tok == "{":
            out = {}
            if self._peek() == ("punct", "}"):
                self._next()
                return out
            while True:
                kind, key = self._next()
                if kind == "str":
                    key = self._string(key)
                elif kind not in ("ident", "num"):
                    raise ConvertError(f"unexpected key {key!r} in the model literal")
                if self._next() != ("punct", ":"):
                    raise ConvertError(f"expected ':' after key {key!r}")
                out[key] = self.value()
                kind, tok = self._next()
                if tok == "}":
                    return out
                if tok != ",":
                    raise ConvertError(f"expected ',' or '}}' in the model literal, got {tok!r}")
        if kind == "punct" and tok == "[":
            out = []
            if self._peek() == ("punct", "]"):
                self._next()
                return out
            while True:
                out.append(self.value())
                kind, tok = self._next()
                if tok == "]":
                    return out
                if tok != ",":
                    raise ConvertError(f"expected ',' or ']' in the model literal, got {tok!r}")
        if kind == "str":
            return self._string(tok)
        if kind == "num":
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        if kind == "bang":
            return tok[-1] == "0"  # !0 is true, !1 is false
        if kind == "ident" and tok == "void":
            self.value()
            return None
        if kind == "ident" and tok in _IDENTS:
            return _IDENTS[tok]
        raise ConvertError(f"unexpected token {tok!r} in the model literal")


def parse_js_literal(text: str, start: int = 0):
    """Parse the JavaScript object/array literal that starts at ``text[start]``."""
    return _JSParser(text, start).value()


def _module_export(path: Path, what: str) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"\.exports\s*=\s*(?=[{\"'])", text)
    if not m:
        raise ConvertError(f"{path} does not look like a JavaScript-wrapped TF.js {what} module (no `exports=`)")
    return text[m.end():]


# ---------------------------------------------------------------------------
# Reading a TF.js layers model


@dataclass
class TFJSModel:
    topology: dict
    weights: dict  # name -> float32 numpy array


_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def dequantize(buf: bytes, spec: dict) -> np.ndarray:
    """One weight from its bytes and manifest entry (TF.js: ``value = q * scale + min`` for uint8/uint16)."""
    shape = tuple(spec["shape"])
    quant = spec.get("quantization")
    if quant:
        qtype = quant["dtype"]
        if qtype not in ("uint8", "uint16", "float16"):
            raise ConvertError(f"{spec['name']}: unsupported quantization dtype {qtype!r}")
        q = np.frombuffer(buf, _DTYPES[qtype])
        if qtype == "float16":
            out = q.astype(np.float32)
        else:
            out = q.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    else:
        dtype = spec.get("dtype", "float32")
        if dtype not in ("float32", "int32"):
            raise ConvertError(f"{spec['name']}: unsupported dtype {dtype!r}")
        out = np.frombuffer(buf, _DTYPES[dtype])
    return out.astype(np.float32).reshape(shape)


def _byte_size(spec: dict) -> int:
    dtype = (spec.get("quantization") or {}).get("dtype") or spec.get("dtype", "float32")
    if dtype not in _DTYPES:
        raise ConvertError(f"{spec.get('name')}: unsupported dtype {dtype!r}")
    return int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(_DTYPES[dtype]).itemsize


def _read_shard(model_dir: Path, name: str) -> bytes:
    plain = model_dir / name
    if plain.is_file():
        return plain.read_bytes()
    wrapped = model_dir / f"{name}.min.js"
    if wrapped.is_file():
        m = re.match(r"\s*([\"'])([A-Za-z0-9+/=\s]*)\1", _module_export(wrapped, "weight shard"))
        if not m:
            raise ConvertError(f"{wrapped}: no base64 string after `exports=`")
        return base64.b64decode(m.group(2))
    raise ConvertError(f"weight shard {name} not found in {model_dir} (as {name} or {name}.min.js)")


def read_tfjs_model(model_dir: str | os.PathLike) -> TFJSModel:
    """``model.json`` (or the package's ``model.min.js``) and its shards -> topology and float32 weights."""
    model_dir = Path(model_dir)
    if (model_dir / "model.json").is_file():
        try:
            doc = json.loads((model_dir / "model.json").read_text())
        except ValueError as exc:
            raise ConvertError(f"{model_dir / 'model.json'} is not valid JSON ({exc})") from None
    elif (model_dir / "model.min.js").is_file():
        doc = parse_js_literal(_module_export(model_dir / "model.min.js", "model"))
    else:
        raise ConvertError(f"{model_dir} holds neither model.json nor model.min.js")
    if not isinstance(doc, dict) or "modelTopology" not in doc or "weightsManifest" not in doc:
        raise ConvertError(f"{model_dir}: not a TF.js layers model (needs modelTopology and weightsManifest)")
    weights = {}
    for group in doc["weightsManifest"]:
        buf = b"".join(_read_shard(model_dir, p) for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            n = _byte_size(spec)
            if offset + n > len(buf):
                raise ConvertError(f"{model_dir}: the shards end before weight {spec['name']}")
            weights[spec["name"]] = dequantize(buf[offset:offset + n], spec)
            offset += n
        if offset != len(buf):
            raise ConvertError(f"{model_dir}: {len(buf) - offset} bytes left over in shards {group['paths']}")
    return TFJSModel(doc["modelTopology"], weights)
