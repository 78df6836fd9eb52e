"""Table 1 at small scale: the AlacGAN-style baseline, WGAN-GP, and ``irodori table1`` end to end."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from irodori.cli import main
from irodori.config import load_config
from irodori.data import build_dataset
from irodori.experiments.table1 import ROWS
from irodori.losses import d_adversarial_loss, g_adversarial_loss, gradient_penalty
from irodori.models import build_discriminator, build_generator
from irodori.models.alacgan import AlacGANGenerator, pool_hints
from irodori.train.loop import micro_step

from conftest import TINY_WIDTHS


def test_alacgan_generator_shapes_modes_and_hints_at_quarter_resolution():
    torch.manual_seed(0)
    G = build_generator(load_config("demo-alacgan", TINY_WIDTHS).generator)
    assert isinstance(G, AlacGANGenerator) and G.multiple == 8
    line = torch.rand(2, 1, 40, 24) * 2 - 1
    hint, mask = torch.rand(2, 3, 40, 24) * 2 - 1, (torch.rand(2, 1, 40, 24) > 0.95).float()
    G.eval()
    out, maps = G(line, hint * mask, mask, return_attention=True)
    flat = G(line, hint * mask, mask, flat=True)
    assert out.shape == flat.shape == (2, 3, 40, 24) and maps == []
    assert out.min() >= -1 and out.max() <= 1
    with pytest.raises(ValueError, match="multiple of 8"):
        G(torch.zeros(1, 1, 36, 36), torch.zeros(1, 3, 36, 36), torch.zeros(1, 1, 36, 36))
    # Pooling keeps every hint: a single hinted pixel marks its 4x4 cell with its own color.
    m = torch.zeros(1, 1, 8, 8)
    m[0, 0, 5, 2] = 1
    c = torch.zeros(1, 3, 8, 8)
    c[0, :, 5, 2] = torch.tensor([0.5, -0.25, 1.0])
    lr, mlr = pool_hints(c, m, 4)
    assert mlr[0, 0].tolist() == [[0, 0], [1, 0]]
    torch.testing.assert_close(lr[0, :, 1, 0], torch.tensor([0.5, -0.25, 1.0]))
    assert lr[0, :, 0].abs().sum() == 0


class LinearCritic(torch.nn.Module):
    """D(line, x) = c * x as a patch map: its critic value (mean over the map) has gradient norm c / sqrt(numel)."""

    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, line, x):
        return [[self.c * x]]


def test_gradient_penalty_on_a_critic_with_known_gradient():
    real, fake, line = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8), torch.zeros(3, 1, 8, 8)
    n = 3 * 8 * 8
    assert gradient_penalty(LinearCritic(n ** 0.5), line, real, fake).item() == pytest.approx(0, abs=1e-10)
    assert gradient_penalty(LinearCritic(3 * n ** 0.5), line, real, fake).item() == pytest.approx(4, rel=1e-5)
    r, f = [[torch.full((2, 1, 4, 4), 2.0)]], [[torch.full((2, 1, 4, 4), -1.0)]]
    assert d_adversarial_loss(r, f, "wgan-gp").item() == pytest.approx(-1 - 2 + 1e-3 * 4)
    assert g_adversarial_loss(f, "wgan-gp").item() == pytest.approx(1.0)


def test_wgan_gp_micro_step_trains_both_networks():
    torch.manual_seed(0)
    cfg = load_config("demo-alacgan", [*TINY_WIDTHS, "data.dataset=synthetic", "data.size=32",
                                       "data.line_methods={xdog: 1.0}", "data.num_workers=0"])
    assert cfg.loss.adversarial == "wgan-gp" and cfg.discriminator.norm == "none"
    ds = build_dataset(cfg.data, seed=0)
    batch = {k: torch.stack([ds[i][k] for i in range(2)]) for k in ("line", "hint", "mask", "color")}
    G, D = build_generator(cfg.generator), build_discriminator(cfg.discriminator)
    terms = micro_step(G, D, D, batch, cfg.loss)
    assert torch.isfinite(terms["d_gp"]) and terms["d_gp"] >= 0
    assert torch.isfinite(terms["d_wdist"]) and "d_real" not in terms  # no sigmoid "probabilities" of a critic
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_table1_rows_are_the_papers_models_sized_alike():
    assert [p for _, p in ROWS] == ["demo-pix2pixhd", "demo-alacgan", "demo-no-attention", "demo"]
    from irodori.experiments.table1 import model_cost

    costs = {p: model_cost(load_config(p), 128) for _, p in ROWS}
    params = [c[0] for c in costs.values()]
    assert max(params) < 1.5 * min(params), costs  # same scale: within 1.5x parameters
    for _, p in ROWS:
        assert load_config(p).train.batch_size == load_config("demo").train.batch_size


# ---------------------------------------------------------------------------
# End to end on a tiny OpenMoji-like prepared directory


@pytest.fixture
def moji_dir(tmp_path):
    """Prepared-dir layout (color/, black/, manifest.json): colored shapes with black outlines."""
    root = tmp_path / "moji"
    (root / "color").mkdir(parents=True)
    (root / "black").mkdir()
    rng = np.random.default_rng(0)
    files = {}
    for k in range(8):
        name = f"1F6{k:02X}"
        color = np.full((48, 48, 3), 255, np.uint8)
        black = np.full((48, 48), 255, np.uint8)
        y0, x0 = rng.integers(4, 16, 2)
        color[y0:y0 + 24, x0:x0 + 24] = rng.integers(0, 255, 3)
        color[y0 + 8:y0 + 16, x0 + 8:x0 + 16] = rng.integers(0, 255, 3)
        for a, b in ((0, 24), (8, 16)):
            for img in (color, black):
                img[y0 + a:y0 + b, [x0 + a, x0 + b - 1]] = 0
                img[[y0 + a, y0 + b - 1], x0 + a:x0 + b] = 0
        Image.fromarray(color).save(root / "color" / f"{name}.png")
        Image.fromarray(black, "L").save(root / "black" / f"{name}.png")
        files[name] = {"split": "test" if k < 3 else "train", "group": name, "category": "test"}
    (root / "manifest.json").write_text(json.dumps({"size": 48, "files": files}))
    return root


TINY_ROWS = [*TINY_WIDTHS, "train.batch_size=2", "data.num_workers=0", "train.ckpt_every=1", "train.log_every=1",
             "train.sample_every=1000"]


def _tiny_nsfwjs_weights():
    """A randomly initialized, 1/16-width converted network in the cache, standing in for the real one."""
    from irodori.eval.nsfwjs import NSFWJSInception, save_nsfwjs_inception

    torch.manual_seed(0)
    net = NSFWJSInception(width_div=16, head_sizes=(128, 5), head_activations=("softmax",))
    save_nsfwjs_inception(net)


def _table1_args(moji_dir, out, steps):
    return ["table1", "--data", str(moji_dir), "--steps", str(steps), "--out", str(out), "--size", "32",
            "--num-hints", "4", "--grid-images", "2", "--preset-overrides", *TINY_ROWS]


def test_table1_end_to_end(moji_dir, tmp_path, capsys):
    _tiny_nsfwjs_weights()
    out = tmp_path / "t1"
    assert main(_table1_args(moji_dir, out, 1)) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"table1={out / 'table1.md'}"
    md = (out / "table1.md").read_text()
    assert "| FID-nsfwjs ↓ |" in md and "not comparable with published FID" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "preset" not in line]
    assert [r.split("|")[2].strip() for r in rows] == [p for _, p in ROWS]
    res = json.loads((out / "table1.json").read_text())
    assert res["images"] == 3 and res["fid_extractor"] == "inception-nsfwjs"
    for r in res["rows"]:
        assert r["step"] == 1 and r["params"] > 0 and r["macs"] > 0
        assert all(np.isfinite(r[k]) for k in ("fid", "psnr", "ssim", "hint_de", "bleeding", "psnr_nohints"))
        assert (out / "runs" / r["preset"] / "checkpoints").is_dir()
    grid = Image.open(out / "table1_grid.png")
    assert grid.size == (2 + 34 * (2 + len(ROWS) + 1), 14 + 2 + 34 * 2)


@pytest.mark.slow
def test_table1_without_fid_weights_then_resumed(moji_dir, tmp_path, capsys):
    out = tmp_path / "t1"
    assert main(_table1_args(moji_dir, out, 1)) == 0
    assert "FID-nsfwjs: n/a: nsfwjs InceptionV3 weights not found" in (out / "table1.md").read_text()
    assert json.loads((out / "table1.json").read_text())["fid_extractor"] is None
    capsys.readouterr()
    assert main(_table1_args(moji_dir, out, 2)) == 0  # a larger budget: every run resumes from step 1
    text = capsys.readouterr().out
    assert text.count("at step 1") == len(ROWS)
    assert all(r["step"] == 2 for r in json.loads((out / "table1.json").read_text())["rows"])


def test_cli_evaluate_prints_the_table_with_bleeding_and_fid(moji_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "tiny", "--out", str(run), "--steps", "1", "data.dataset=openmoji",
                 f"data.root={moji_dir}", "train.log_every=1", "train.sample_every=1000"]) == 0
    _tiny_nsfwjs_weights()
    capsys.readouterr()
    args = ["evaluate", "--model", str(run), "--data", str(moji_dir), "--size", "32", "--metrics",
            "psnr,ssim,hint_de,bleeding,fid", "--json", str(tmp_path / "e.json")]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("psnr_hints=") and " psnr_nohints=" in lines[-1] and " hint_de=" in lines[-1]
    assert any(line.startswith("bleeding") for line in lines)
    assert any(line.startswith("fid") and "not comparable with published FID" in line and "computed" in line
               for line in lines)
    res = json.loads((tmp_path / "e.json").read_text())
    assert res["images"] == 3 and res["step"] == 1 and res["fid_extractor"] == "inception-nsfwjs"
    assert main([*args[:-4], "--metrics", "psnr,nope"]) == 2
