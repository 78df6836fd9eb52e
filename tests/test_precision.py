"""Inference set-up: precision choice, channels-last, and that bf16 stays close to fp32."""

import numpy as np
import pytest
import torch

from irodori.colorize import precision
from irodori.cli import main
from irodori.config import load_config
from irodori.errors import ConfigError
from irodori.colorize.precision import as_input, prepare_generator, resolve_precision
from irodori.models import build_generator
from irodori.colorize.pipeline import Colorizer

from conftest import cross_lineart


def test_resolve_precision(monkeypatch):
    assert resolve_precision("fp32", "cpu") == torch.float32
    assert resolve_precision("bf16", "cpu") == torch.bfloat16
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    assert resolve_precision("auto", "cpu") == torch.float32
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    assert resolve_precision("auto", "cpu") == torch.bfloat16
    with pytest.raises(ConfigError, match="fp16"):
        resolve_precision("fp16", "cpu")


def test_prepare_generator_sets_dtype_layout_and_eval():
    G = build_generator(load_config("tiny").generator).train()
    G, dtype = prepare_generator(G, "cpu", "bf16")
    assert dtype == torch.bfloat16 and not G.training
    conv = next(m for m in G.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.dtype == torch.bfloat16 and conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = as_input(torch.zeros(1, 1, 32, 32), dtype, "cpu")
    assert x.dtype == torch.bfloat16 and x.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_fp32_matches_the_plain_module():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    ref = build_generator(cfg.generator).eval()
    fast = build_generator(cfg.generator)
    fast.load_state_dict(ref.state_dict())
    fast, dtype = prepare_generator(fast, "cpu", "fp32")
    x = (torch.rand(2, 1, 32, 48) * 2 - 1, torch.rand(2, 3, 32, 48) * 2 - 1, (torch.rand(2, 1, 32, 48) > 0.9).float())
    with torch.inference_mode():
        a = ref(*x, flat=True)
        b = fast(*(as_input(t, dtype, "cpu") for t in x), flat=True)
    assert (a - b).abs().max().item() < 1e-4


def test_bf16_colorizer_is_close_to_fp32(model_path):
    hints = [{"x": 5, "y": 5, "color": "#ff0000", "size": 3}, {"x": 60, "y": 40, "color": "#2040c0"}]
    fp32 = Colorizer.from_pretrained(model_path, precision="fp32")
    bf16 = Colorizer.from_pretrained(model_path, precision="bf16")
    assert fp32.dtype == torch.float32 and bf16.dtype == torch.bfloat16
    a, b = (np.asarray(c(cross_lineart(80, 48), hints).image, np.int16) for c in (fp32, bf16))
    assert a.shape == b.shape == (48, 80, 3)
    # bf16 keeps 8 bits of mantissa: a few levels at most, not a different picture
    assert np.abs(a - b).max() <= 8 and np.abs(a - b).mean() < 1.0


def test_cli_precision_flag(model_path, tmp_path):
    from PIL import Image

    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart(80, 48)).save(src)
    out = tmp_path / "fp32.png"
    assert main(["colorize", str(src), "-o", str(out), "--model", str(model_path), "--precision", "fp32",
                 "--hint", "5,5,#ff0000"]) == 0
    ref = Colorizer.from_pretrained(model_path)(cross_lineart(80, 48), [{"x": 5, "y": 5, "color": "#ff0000"}]).image
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(ref))
    with pytest.raises(SystemExit):
        main(["colorize", str(src), "-o", str(tmp_path / "x.png"), "--model", str(model_path), "--precision", "fp8"])
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_folded_unshuffle_stem_matches_the_plain_module(dtype):
    from conftest import TINY_WIDTHS

    torch.manual_seed(0)
    cfg = load_config("demo-256", TINY_WIDTHS)
    ref = build_generator(cfg.generator).eval().to(dtype)
    fast = build_generator(cfg.generator)
    fast.load_state_dict(ref.state_dict())
    fast, _ = prepare_generator(fast, "cpu", "fp32" if dtype == torch.float32 else "bf16")
    assert isinstance(fast.stem[1], precision.UnshuffledConv2d) and isinstance(fast.stem[0], torch.nn.Identity)
    x = (torch.rand(1, 1, 64, 96) * 2 - 1, torch.rand(1, 3, 64, 96) * 2 - 1, (torch.rand(1, 1, 64, 96) > 0.9).float())
    with torch.inference_mode():
        a = ref(*(t.to(dtype) for t in x), flat=True).float()
        b = fast(*(as_input(t, dtype, "cpu") for t in x), flat=True).float()
    assert (a - b).abs().max().item() < (1e-4 if dtype == torch.float32 else 0.03)


def test_folding_keeps_parameter_names_shapes_and_loading():
    torch.manual_seed(0)
    cfg = load_config("demo-256", ["generator.channels=[8,16,16,32,32]", "generator.num_blocks=1"])
    G = build_generator(cfg.generator)
    before = {k: (v.shape, v.clone()) for k, v in G.state_dict().items()}
    G, _ = prepare_generator(G, "cpu", "fp32")
    after = G.state_dict()
    assert {k: v[0] for k, v in before.items()} == {k: v.shape for k, v in after.items()}
    assert all(torch.equal(before[k][1], after[k]) for k in before)
    G.load_state_dict({k: v[1] for k, v in before.items()})  # still loads the trained files' layout
    assert all(m.inplace for m in G.modules() if isinstance(m, (torch.nn.LeakyReLU, torch.nn.ReLU)))
