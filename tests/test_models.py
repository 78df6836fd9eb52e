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
