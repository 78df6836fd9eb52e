"""The paper's losses (§3.3) as small pure functions, outside the models.

Discriminator outputs are lists (one per scale) of lists of layer features; the
last feature of each scale is its logit map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from irodori.models.vgg import VGG19Features

PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PERCEPTUAL_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
#: WGAN-GP's drift term on real scores (Karras et al. 2018, used by AlacGAN) keeps the critic near 0.
WGAN_DRIFT = 1e-3


def _logits(feats: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    return [f[-1] for f in feats]


def d_adversarial_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]], kind: str = "bce") -> torch.Tensor:
    """Eq. 1 from D's side, summed over the scales: D maximises log D(x, y) + log(1 - D(x, G(x, h)))."""
    total = 0.0
    for r, f in zip(_logits(real), _logits(fake)):
        if kind == "bce":
            total = total + F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) \
                + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
        elif kind == "lsgan":
            total = total + F.mse_loss(r, torch.ones_like(r)) + F.mse_loss(f, torch.zeros_like(f))
        elif kind == "hinge":
            total = total + F.relu(1 - r).mean() + F.relu(1 + f).mean()
        elif kind == "wgan-gp":  # the critic's part; the gradient penalty is added by the caller
            total = total + f.mean() - r.mean() + WGAN_DRIFT * r.square().mean()
        else:
            raise ValueError(f"unknown adversarial loss {kind!r}")
    return total


def g_adversarial_loss(fake: list[list[torch.Tensor]], kind: str = "bce") -> torch.Tensor:
    """Eq. 1 from G's side, non-saturating: G minimises -log D(x, G(x, h)); summed over the scales."""
    total = 0.0
    for f in _logits(fake):
        if kind == "bce":
            total = total + F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
        elif kind == "lsgan":
            total = total + F.mse_loss(f, torch.ones_like(f))
        elif kind in ("hinge", "wgan-gp"):
            total = total - f.mean()
        else:
            raise ValueError(f"unknown adversarial loss {kind!r}")
    return total


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Eq. 2 summed over the scales: mean L1 per layer (the 1/N_j), all layers but the logits,
    real features detached; pix2pixHD weighting 4/(n_layers+1) per layer and 1/num_D per scale."""
    num_d = len(real)
    total = 0.0
    for r_scale, f_scale in zip(real, fake):
        layer_w = 4.0 / (len(r_scale) - 1)  # pix2pixHD: 4 / (n_layers + 1) over the non-logit layers
        for r, f in zip(r_scale[:-1], f_scale[:-1]):
            total = total + layer_w / num_d * F.l1_loss(f, r.detach())
    return total


def gradient_penalty(D, line: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(|grad_x D(x)|_2 - 1)^2] at random points between real and fake.

    The critic value of an image is the sum over scales of its mean patch score. Builds a graph
    (create_graph) so the penalty trains D; ``fake`` should be detached.
    """
    u = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x = (real + u * (fake - real)).requires_grad_(True)
    score = sum(s[-1].flatten(1).mean(1) for s in D(line, x))
    (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


def perceptual_loss(vgg: VGG19Features, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Eq. 3: mean L1 between VGG19 relu1_1..relu5_1 features, weights 1/32..1 (pix2pixHD)."""
    ff, fr = vgg(fake), vgg(real)
    return sum(w * F.l1_loss(ff[k], fr[k].detach()) for k, w in zip(PERCEPTUAL_LAYERS, PERCEPTUAL_WEIGHTS))


def hint_l1_loss(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean L1 between output and ground truth over the hinted pixels only (0 when a batch has no hint).

    A sparse term: hints cover ~1% of the pixels, so a whole-image L1 hardly notices whether a
    user's color came out where it was asked for. ``mask`` is (N,1,H,W) in {0, 1}.
    """
    mask = mask.to(fake.dtype)
    return ((fake - real).abs() * mask).sum() / (mask.sum() * fake.shape[1]).clamp_min(1.0)


def region_l1_loss(fake: torch.Tensor, real: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean L1 between output and ground truth over the ground-truth regions that hold a hint (0 without).

    Not in the paper. The whole-image L1 weighs a hinted region by its area, so a small hinted region
    hardly counts, and the hint L1 looks only under the hint: this term asks for the hint's color over
    the whole region it was drawn in, so the network learns to spread a hint up to the lines by itself.
    ``region`` is (N,1,H,W) in {0, 1}, from :func:`irodori.data.hints.simulate_region_hints`.
    """
    region = region.to(fake.dtype)
    return ((fake - real).abs() * region).sum() / (region.sum() * fake.shape[1]).clamp_min(1.0)


def generator_objective(fake_feats, real_feats, fake, real, *, adversarial: str = "bce", lambda_fm: float = 10.0,
                        lambda_perc: float = 10.0, lambda_l1: float = 0.0, vgg: VGG19Features | None = None,
                        lambda_adv: float = 1.0, lambda_hint: float = 0.0, mask: torch.Tensor | None = None,
                        lambda_region: float = 0.0, region: torch.Tensor | None = None):
    """Eq. 4 for G: λ_adv adv + λ (FM + perc) [+ λ_l1 L1] [+ λ_hint L1 at hints] [+ λ_region L1 in hinted regions].

    Returns (total, dict of detached terms). ``mask`` (the hint mask) is needed when λ_hint > 0, ``region``
    (the hinted ground-truth regions) when λ_region > 0.
    """
    terms = {"g_adv": g_adversarial_loss(fake_feats, adversarial)}
    total = lambda_adv * terms["g_adv"]
    if lambda_fm:
        terms["g_fm"] = feature_matching_loss(real_feats, fake_feats)
        total = total + lambda_fm * terms["g_fm"]
    if lambda_perc and vgg is not None:
        terms["g_perc"] = perceptual_loss(vgg, fake, real)
        total = total + lambda_perc * terms["g_perc"]
    if lambda_l1:
        terms["g_l1"] = F.l1_loss(fake, real)
        total = total + lambda_l1 * terms["g_l1"]
    if lambda_hint:
        if mask is None:
            raise ValueError("lambda_hint > 0 needs the hint mask")
        terms["g_hint"] = hint_l1_loss(fake, real, mask)
        total = total + lambda_hint * terms["g_hint"]
    if lambda_region:
        if region is None:
            raise ValueError("lambda_region > 0 needs the hinted regions")
        terms["g_region"] = region_l1_loss(fake, real, region)
        total = total + lambda_region * terms["g_region"]
    terms["g_total"] = total
    return total, {k: v.detach() for k, v in terms.items()}
