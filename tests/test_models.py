import pytest
import torch

from irodori.config import PRESETS, load_config
from irodori.models import CSABlock, HintEncoder, MultiScaleDiscriminator, build_discriminator, build_generator

from conftest import TINY_WIDTHS


def _inputs(n=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    line = torch.rand(n, 1, size, size, generator=g) * 2 - 1
    hint = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    mask = (torch.rand(n, 1, size, size, generator=g) > 0.9).float()
    return line, hint, mask


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_forward_backward_at_tiny_width(preset):
    torch.manual_seed(0)
    cfg = load_config(preset, TINY_WIDTHS)
    G = build_generator(cfg.generator)
    D = build_discriminator(cfg.discriminator)
    line, hint, mask = _inputs()
    out = G(line, hint, mask)
    assert out.shape == (2, 3, 32, 32)
    assert torch.isfinite(out).all()
    feats = D(line, out)
    assert len(feats) == cfg.discriminator.num_d
    loss = out.square().mean() + sum(f[-1].mean() for f in feats)
    loss.backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name} got no gradient"
            assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"
        else:
            assert p.grad is None, f"frozen {name} got a gradient"
    frozen = [n for n, p in G.named_parameters() if not p.requires_grad]
    if cfg.generator.block != "none" and cfg.generator.hint_encoder == "vgg19" and cfg.generator.arch == "unet":
        assert frozen and all(n.startswith("hint_encoder.vgg.features.") for n in frozen)
    else:
        assert not frozen


def test_output_in_range_and_shape_for_non_square_eval():
    cfg = load_config("tiny")
    G = build_generator(cfg.generator).eval()
    line = torch.ones(1, 1, 48, 80)
    out = G(line, torch.zeros(1, 3, 48, 80), torch.zeros(1, 1, 48, 80))
    assert out.shape == (1, 3, 48, 80)
    assert out.min() >= -1 and out.max() <= 1


def test_size_not_multiple_of_16_is_refused():
    G = build_generator(load_config("tiny").generator)
    with pytest.raises(ValueError, match="multiple of 16"):
        G(*_inputs(1, 40))


@pytest.mark.parametrize("attention", ["spatial", "channel"])
def test_attention_maps_lie_in_open_unit_interval(attention):
    cfg = load_config("tiny", [f"generator.attention={attention}"])
    G = build_generator(cfg.generator)
    _, maps = G(*_inputs(), return_attention=True)
    assert len(maps) == cfg.generator.num_blocks
    for a in maps:
        assert a.shape[1] == (1 if attention == "spatial" else cfg.generator.channels[-1])
        assert (a > 0).all() and (a < 1).all()


def test_csa_block_is_residual_and_uses_hints():
    torch.manual_seed(0)
    blk = CSABlock(16, hint_in=8, hint_channels=8, attention_channels=8)
    x = torch.randn(1, 16, 4, 4)
    h1, h2 = torch.randn(1, 8, 8, 8), torch.randn(1, 8, 8, 8)
    y1, a1 = blk(x, h1)
    y2, a2 = blk(x, h2)
    assert a1.shape == (1, 1, 4, 4)
    assert not torch.allclose(a1, a2), "attention must depend on the hint features"
    f = blk.body(x)
    assert torch.allclose(y1, x + f * a1, atol=1e-6)


def test_hint_encoder_is_frozen_and_at_one_eighth():
    enc = HintEncoder()
    enc.train()
    assert not enc.vgg.training
    assert all(not p.requires_grad for p in enc.parameters())
    out = enc(torch.zeros(1, 3, 32, 32), torch.zeros(1, 1, 32, 32))
    assert out.shape == (1, 512, 4, 4)


def test_discriminator_returns_three_scales_of_every_layer():
    D = MultiScaleDiscriminator(num_d=3, ndf=8, n_layers=3)
    feats = D(torch.zeros(1, 1, 64, 64), torch.zeros(1, 3, 64, 64))
    assert len(feats) == 3
    assert all(len(f) == 5 for f in feats)
    assert all(f[-1].shape[1] == 1 for f in feats)
    # each scale sees half the resolution of the previous one
    assert feats[0][0].shape[-1] > feats[1][0].shape[-1] > feats[2][0].shape[-1]


def test_generator_seeded_output_slice_is_reproducible():
    def run():
        torch.manual_seed(123)
        G = build_generator(load_config("tiny").generator)
        return G(*_inputs(1, 32, seed=5))[0, :, :2, :2]
    assert torch.equal(run(), run())


@pytest.mark.parametrize("upsample", ["transposed", "resize"])
@pytest.mark.parametrize("full_res", ["conv", "unshuffle"])
def test_upsample_and_full_res_options_forward_backward(upsample, full_res):
    torch.manual_seed(0)
    cfg = load_config("tiny", [f"generator.upsample={upsample}", f"generator.full_res={full_res}",
                               "generator.output=residual"])
    G = build_generator(cfg.generator)
    assert G.multiple == (16 if full_res == "conv" else 32)
    assert f"upsample={upsample}, full_res={full_res}" in G.extra_repr()
    line, hint, mask = _inputs(2, 64)
    out = G(line, hint, mask)
    assert out.shape == (2, 3, 64, 64) and torch.isfinite(out).all()
    out.square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"
    if full_res == "unshuffle":
        with pytest.raises(ValueError, match="multiple of 32"):
            G(*_inputs(1, 48))


def test_unshuffle_runs_the_stages_at_half_resolution_and_its_head_starts_without_checkerboard():
    cfg = load_config("tiny", ["generator.full_res=unshuffle", "generator.upsample=resize"])
    G = build_generator(cfg.generator).eval()
    shapes = {}
    for name in ("stem", "mid"):
        mod = getattr(G, name)
        target = mod if name == "stem" else mod[0]
        target.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(
            name, (o[0] if isinstance(o, tuple) else o).shape[-1]))
    G(*_inputs(1, 64))
    assert shapes == {"stem": 32, "mid": 2}  # H/2 and H/32
    head = G.to_rgb(torch.randn(1, cfg.generator.channels[0], 8, 8))
    blocks = head.unfold(2, 2, 2).unfold(3, 2, 2)  # every 2x2 output block of the pixel shuffle
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks))


def test_options_apply_to_the_unet_only_and_are_validated():
    from irodori.errors import ConfigError

    with pytest.raises(ConfigError, match="apply to the U-Net"):
        load_config("demo-pix2pixhd", ["generator.full_res=unshuffle"])
    with pytest.raises(ConfigError, match="is not one of transposed, resize"):
        load_config("tiny", ["generator.upsample=bilinear"])
    paper = load_config("paper").generator
    assert (paper.upsample, paper.full_res) == ("transposed", "conv")


def test_an_unshuffle_release_colorizes_odd_sizes_padded_to_its_multiple(tmp_path):
    import numpy as np

    from irodori.colorize.pipeline import Colorizer
    from irodori.release import save_release

    torch.manual_seed(0)
    cfg = load_config("demo-256", TINY_WIDTHS + ["data.size=64"])
    path = save_release(build_generator(cfg.generator).state_dict(), cfg, tmp_path / "m.safetensors")
    line = np.full((37, 53), 255, np.uint8)
    line[18, :] = 0
    res = Colorizer.from_pretrained(path)(line, [{"x": 10, "y": 5, "color": "#d22f27"}], resolution=70)
    assert res.image.size == (53, 37)
