"""ONNX export and the ONNX Runtime backend: parity with torch at several sizes, the CLI, the cache."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from irodori.cli import main  # noqa: E402
from irodori.config import load_config  # noqa: E402
from irodori.models import build_generator  # noqa: E402
from irodori.colorize.onnx_backend import OnnxGenerator, cached_onnx_generator, export_onnx, read_metadata  # noqa: E402
from irodori.colorize.pipeline import Colorizer  # noqa: E402

from conftest import TINY_WIDTHS, cross_lineart  # noqa: E402

#: (preset, overrides): the two shipped CSA U-Nets and, at tiny widths, the other generator types.
ARCHS = {
    "tiny": ("tiny", ["generator.output=residual"]),
    "demo": ("demo", []),
    "secat": ("tiny", ["generator.block=secat"]),
    "no-attention": ("tiny", ["generator.block=none"]),
    "pix2pixhd": ("pix2pixhd", TINY_WIDTHS),
    "alacgan": ("demo-alacgan", TINY_WIDTHS),
    "unshuffle-resize": ("demo-256", TINY_WIDTHS),
    "resize": ("tiny", ["generator.output=residual", "generator.upsample=resize"]),
}


def _inputs(n, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, h, w, generator=g) * 2 - 1, torch.rand(n, 3, h, w, generator=g) * 2 - 1,
            (torch.rand(n, 1, h, w, generator=g) > 0.9).float())


@pytest.mark.parametrize("arch", list(ARCHS))
def test_export_matches_torch_at_two_sizes(arch, tmp_path):
    preset, overrides = ARCHS[arch]
    torch.manual_seed(0)
    cfg = load_config(preset, overrides)
    G = build_generator(cfg.generator).eval()
    path = export_onnx(G, cfg, tmp_path / "g.onnx")
    assert not G.training, "the export leaves the generator in the mode it found it"
    session = OnnxGenerator(path)
    m = G.multiple
    for n, h, w in [(1, 2 * m, 3 * m), (2, 4 * m, 4 * m)]:
        x = _inputs(n, h, w, seed=h)
        with torch.inference_mode():
            ref = G(*x, flat=True)
        out = session(*x, flat=True)
        assert out.shape == (n, 3, h, w)
        assert (out - ref).abs().max().item() <= 1e-3, f"{arch} at {n}x{h}x{w}"


def test_metadata_rebuilds_config_and_bad_calls_are_refused(tmp_path):
    cfg = load_config("tiny", ["data.size=64"])
    G = build_generator(cfg.generator)
    G.train()
    path = export_onnx(G, cfg, tmp_path / "g.onnx", metadata={"source": "test"})
    assert G.training
    meta = read_metadata(path)
    assert meta["native_size"] == "64" and meta["multiple"] == "16" and meta["source"] == "test"
    session = OnnxGenerator(path)
    assert session.config == cfg and session.multiple == 16
    with pytest.raises(ValueError, match="multiple of 16"):
        session(*_inputs(1, 40, 32, 0))
    with pytest.raises(ValueError, match="flat"):
        session(*_inputs(1, 32, 32, 0), flat=False)


def test_cache_is_keyed_by_the_weights(tmp_path):
    cfg = load_config("tiny")
    G = build_generator(cfg.generator).eval()
    first = cached_onnx_generator(G, cfg).path
    assert cached_onnx_generator(G, cfg).path == first
    assert first.parent == tmp_path / "cache" / "onnx"  # $IRODORI_CACHE, set by conftest
    with torch.no_grad():
        G.to_rgb.bias.add_(0.5)
    second = cached_onnx_generator(G, cfg)
    assert second.path != first
    x = _inputs(1, 32, 32, 1)
    with torch.inference_mode():
        assert (second(*x) - G(*x, flat=True)).abs().max().item() <= 1e-3


def test_cli_export_then_colorize_with_the_file(model_path, tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    assert main(["export-onnx", "--model", str(model_path), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"], "no temp files left"
    assert read_metadata(out)["step"] == "7"
    hints = [{"x": 10, "y": 10, "color": "#ff0000", "size": 4}]
    ref = np.asarray(Colorizer.from_pretrained(model_path)(cross_lineart(), hints).image, np.int16)
    col = Colorizer.from_pretrained(out, backend="onnx")
    assert col.native_size == 64
    got = np.asarray(col(cross_lineart(), hints).image, np.int16)
    assert np.abs(got - ref).max() <= 1


def test_cli_colorize_backend_onnx_equals_torch(model_path, tmp_path):
    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart()).save(src)
    outs = {}
    for backend in ("torch", "onnx"):
        outs[backend] = tmp_path / f"{backend}.png"
        assert main(["colorize", str(src), "-o", str(outs[backend]), "--model", str(model_path),
                     "--hint", "10,10,#00ff00,4", "--backend", backend, "--precision", "fp32"]) == 0
    a, b = (np.asarray(Image.open(outs[k]), np.int16) for k in ("torch", "onnx"))
    assert a.shape == b.shape == (60, 90, 3)
    assert np.abs(a - b).max() <= 1
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1


def test_run_dir_backend_onnx_matches_torch(tmp_path):
    from irodori import checkpoint as ckpt

    torch.manual_seed(1)
    cfg = load_config("tiny", ["generator.output=residual"])
    G = build_generator(cfg.generator)
    ckpt.save_checkpoint(tmp_path / "run" / "checkpoints", {"version": ckpt.CHECKPOINT_VERSION, "step": 3,
                                                            "config": cfg.to_dict(), "G_ema": G.state_dict()}, 1)
    torch_col, onnx_col = (Colorizer.from_pretrained(tmp_path / "run", backend=b) for b in ("torch", "onnx"))
    assert isinstance(onnx_col.generator, OnnxGenerator) and onnx_col.meta["step"] == 3
    a, b = (np.asarray(c(cross_lineart(40, 64)).flats, np.int16) for c in (torch_col, onnx_col))
    assert np.abs(a - b).max() <= 1


@pytest.mark.parametrize("problem", ["missing", "corrupt", "bad-opset"])
def test_cli_export_errors_exit_2_and_write_nothing(problem, model_path, tmp_path, capsys):
    model, extra = str(model_path), []
    if problem == "missing":
        model = str(tmp_path / "nope.safetensors")
    elif problem == "corrupt":
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(b"not safetensors at all")
        bad.with_suffix(".json").write_text(model_path.with_suffix(".json").read_text())
        model = str(bad)
    else:
        extra = ["--opset", "99"]
    out_dir = tmp_path / "out"
    assert main(["export-onnx", "--model", model, "--out", str(out_dir / "m.onnx"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irodori export-onnx: error:") and "Traceback" not in err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_colorize_onnx_file_needs_onnx_backend(tmp_path, capsys):
    src = tmp_path / "line.png"
    Image.fromarray(cross_lineart()).save(src)
    assert main(["colorize", str(src), "-o", str(tmp_path / "o.png"), "--model", str(tmp_path / "m.onnx")]) == 2
    assert "backend" in capsys.readouterr().err
    assert main(["colorize", str(src), "-o", str(tmp_path / "o.png"), "--model", str(tmp_path / "m.onnx"),
                 "--backend", "onnx"]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_bench_infer_onnx_backend(capsys):
    assert main(["bench", "infer", "--preset", "tiny", "--size", "32", "--n", "2", "--backend", "onnx"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "backend onnx" in lines[0]
    assert re.fullmatch(r"ratio_to_flop_bound=\d+\.\d+", lines[-1])


def test_onnx_runtime_threads_sleep_instead_of_spinning(tmp_path):
    cfg = load_config("tiny", ["generator.output=residual"])
    path = export_onnx(build_generator(cfg.generator).eval(), cfg, tmp_path / "g.onnx")
    opts = OnnxGenerator(path, threads=2).session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.intra_op_num_threads == 2


def test_int8_export_keeps_the_metadata_and_stays_close_to_fp32(model_path, tmp_path, capsys):
    out = tmp_path / "tiny-int8.onnx"
    assert main(["export-onnx", "--model", str(model_path), "--out", str(out), "--int8"]) == 0
    assert "int8" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-int8.onnx"], "no temp files left"
    meta = read_metadata(out)
    assert meta["precision"] == "int8" and meta["step"] == "7" and meta["native_size"] == "64"
    assert any(n.op_type == "QuantizeLinear" for n in __import__("onnx").load(str(out)).graph.node)
    hints = [{"x": 10, "y": 10, "color": "#ff0000", "size": 4}]
    ref = np.asarray(Colorizer.from_pretrained(model_path)(cross_lineart(), hints, flats="model").image, np.float64)
    got = np.asarray(Colorizer.from_pretrained(out, backend="onnx")(cross_lineart(), hints, flats="model").image,
                     np.float64)
    assert np.abs(got - ref).mean() <= 4, "int8 stays within a few levels of fp32 on average"
    assert main(["bench", "infer", "--backend", "onnx", "--model", str(out), "--size", "64", "--n", "1"]) == 0
    assert "(int8)" in capsys.readouterr().out


def test_int8_calibration_inputs_are_seeded_model_inputs():
    from irodori.onnx_int8 import calibration_inputs

    a, b = calibration_inputs(3, 32), calibration_inputs(3, 32)
    assert [sorted(f) for f in a] == [["hint", "line", "mask"]] * 3
    assert all(np.array_equal(x[k], y[k]) for x, y in zip(a, b) for k in x)
    f = a[0]
    assert f["line"].shape == (1, 1, 32, 32) and f["hint"].shape == (1, 3, 32, 32) and f["mask"].shape == (1, 1, 32, 32)
    assert set(np.unique(f["mask"])) <= {0.0, 1.0} and np.all(f["hint"][:, :, f["mask"][0, 0] == 0] == 0)
