import math

import torch

from irodori.losses import (PERCEPTUAL_WEIGHTS, d_adversarial_loss, feature_matching_loss, g_adversarial_loss,
                            generator_objective, hint_l1_loss, perceptual_loss)
from irodori.models.vgg import VGG19Features


def _feats(value, num_d=3, layers=5):
    return [[torch.full((1, 2, 4, 4), float(value)) for _ in range(layers)] for _ in range(num_d)]


def test_bce_adversarial_matches_eq1():
    # logits 0 -> D = 0.5 everywhere: each term is log 2 per scale
    assert math.isclose(d_adversarial_loss(_feats(0), _feats(0)).item(), 3 * 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(g_adversarial_loss(_feats(0)).item(), 3 * math.log(2), rel_tol=1e-6)
    # a confident, correct D has a small loss; G's non-saturating loss is large when D rejects its output
    assert d_adversarial_loss(_feats(10), _feats(-10)).item() < 1e-3
    assert g_adversarial_loss(_feats(-10)).item() > 25


def test_lsgan_and_hinge():
    assert math.isclose(d_adversarial_loss(_feats(1), _feats(0), "lsgan").item(), 0.0, abs_tol=1e-7)
    assert math.isclose(g_adversarial_loss(_feats(0), "lsgan").item(), 3.0, rel_tol=1e-6)
    assert math.isclose(d_adversarial_loss(_feats(1), _feats(-1), "hinge").item(), 0.0, abs_tol=1e-7)
    assert math.isclose(g_adversarial_loss(_feats(2), "hinge").item(), -6.0, rel_tol=1e-6)


def test_feature_matching_weights_and_detach():
    real = _feats(1.0)
    for scale in real:
        for f in scale:
            f.requires_grad_(True)
    fake = _feats(0.0)
    for scale in fake:
        for f in scale:
            f.requires_grad_(True)
    loss = feature_matching_loss(real, fake)
    # 4 non-logit layers each weighted 4/4, over 3 scales weighted 1/3, |1 - 0| = 1
    assert math.isclose(loss.item(), 4.0, rel_tol=1e-6)
    loss.backward()
    assert all(f.grad is None for scale in real for f in scale), "real features must be detached"
    assert fake[0][-1].grad is None, "the logits are not matched"
    assert fake[0][0].grad is not None


def test_perceptual_loss_weights():
    torch.manual_seed(0)
    vgg = VGG19Features()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert perceptual_loss(vgg, x, x).item() == 0
    y = torch.rand(1, 3, 32, 32) * 2 - 1
    fx, fy = vgg(x), vgg(y)
    manual = sum(w * (fx[k] - fy[k]).abs().mean() for k, w in zip(vgg.taps, PERCEPTUAL_WEIGHTS))
    assert torch.allclose(perceptual_loss(vgg, x, y), manual)


def test_generator_objective_is_eq4():
    fake_f, real_f = _feats(0), _feats(1)
    fake, real = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    total, terms = generator_objective(fake_f, real_f, fake, real, lambda_fm=10, lambda_perc=0, lambda_l1=2)
    expected = terms["g_adv"] + 10 * terms["g_fm"] + 2 * terms["g_l1"]
    assert torch.allclose(total, expected) and terms["g_l1"].item() == 1.0


def test_hint_l1_counts_only_hinted_pixels():
    real = torch.zeros(2, 3, 8, 8)
    fake = real.clone()
    fake[:, :, :4] = 1.0  # wrong in the top half only
    mask = torch.zeros(2, 1, 8, 8)
    assert hint_l1_loss(fake, real, mask).item() == 0.0  # no hints: no term, no NaN
    mask[0, :, 6:, 6:] = 1  # hints where the output is right
    assert hint_l1_loss(fake, real, mask).item() == 0.0
    mask[1, :, :2, :2] = 1  # and 4 pixels where it is off by 1
    assert math.isclose(hint_l1_loss(fake, real, mask).item(), 0.5)


def test_generator_objective_adds_the_hint_term():
    fake_f, real_f = _feats(0), _feats(0)
    fake, real = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :2, :2] = 1
    total, terms = generator_objective(fake_f, real_f, fake, real, lambda_fm=0, lambda_perc=0, lambda_hint=5,
                                       mask=mask)
    assert torch.allclose(total, terms["g_adv"] + 5 * terms["g_hint"]) and terms["g_hint"].item() == 1.0
    try:
        generator_objective(fake_f, real_f, fake, real, lambda_fm=0, lambda_perc=0, lambda_hint=5)
    except ValueError:
        pass
    else:
        raise AssertionError("lambda_hint without a mask must fail")
