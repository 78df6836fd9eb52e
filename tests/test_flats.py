"""Region-aware results: which regions hints claim, and flats ⊙ shading ⊙ line."""

import cv2
import numpy as np
import pytest

from irodori.colorize.claims import LUMA, REASONS, claim_regions, hint_report, outer_background
from irodori.colorize.flats import FLATS_MODES, compose
from irodori.colorize.regions import segment

S = 128
RED, GREEN, BLUE = np.array([0.9, 0.1, 0.1]), np.array([0.1, 0.8, 0.2]), np.array([0.1, 0.2, 0.9])


def two_boxes() -> np.ndarray:
    """Two closed boxes side by side (A left, B right) on a background: a shared 3-px wall between them."""
    line = np.ones((S, S), np.float32)
    cv2.rectangle(line, (16, 32), (64, 96), 0.0, 3)
    cv2.rectangle(line, (64, 32), (112, 96), 0.0, 3)
    return line


A, B, BG = (64, 40), (64, 88), (8, 8)  # (y, x) deep inside box A, box B, and the background


def dot(hint, mask, yx, color, r=3):
    y, x = yx
    hint[y - r:y + r + 1, x - r:x + r + 1] = color
    mask[y - r:y + r + 1, x - r:x + r + 1] = 1


def empty():
    return np.zeros((S, S, 3), np.float32), np.zeros((S, S), np.float32)


def model_guess():
    """A stand-in model output: a soft orange everywhere, darker towards the bottom (shading)."""
    ramp = np.linspace(1.0, 0.6, S, dtype=np.float32)[:, None, None]
    return np.broadcast_to(np.array([0.95, 0.7, 0.4], np.float32) * ramp, (S, S, 3)).copy()


def region_of(regions, yx):
    return regions.labels == regions.labels[yx]


def test_a_dot_deep_in_a_region_fills_all_of_it_and_nothing_else():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, A, RED)
    claims = claim_regions(regions, hint, mask)
    layers = compose(model_guess(), line, regions, claims, "hints-only", shading=0.0)
    a, b, bg = (region_of(regions, p) & ~regions.ink for p in (A, B, BG))
    assert np.allclose(layers.flats[a], RED, atol=1e-6)
    assert np.allclose(layers.image[b], 1.0) and np.allclose(layers.image[bg], 1.0)


def test_a_dot_spilling_over_a_line_does_not_color_the_neighbour():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, A, RED)
    hint[60:68, 61:68] = GREEN  # a green dab on the wall between A and B, spilling 2 px into B
    mask[60:68, 61:68] = 1
    claims = claim_regions(regions, hint, mask)
    la, lb = regions.labels[A], regions.labels[B]
    assert claims.claimed[la] and np.allclose(claims.color[la], RED, atol=1e-6), "the spill does not spoil A"
    assert not claims.hinted[lb], "B is not claimed by a few spilled pixels"


def test_a_stroke_across_two_regions_colors_both():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    hint[62:67, 30:100] = BLUE
    mask[62:67, 30:100] = 1
    claims = claim_regions(regions, hint, mask)
    for p in (A, B):
        assert claims.claimed[regions.labels[p]]
    assert not claims.hinted[regions.labels[BG]]


def test_the_outer_background_is_not_claimed_by_a_scribble_spilling_over_a_line():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    hint[27:48, 40:44] = GREEN  # a scribble in box A that runs over A's top line 4 px into the background
    mask[27:48, 40:44] = 1
    claims = claim_regions(regions, hint, mask)
    assert claims.claimed[regions.labels[A]]
    assert not claims.hinted[regions.labels[BG]]
    dot(hint, mask, (112, 64), GREEN)  # deep in the background
    assert claim_regions(regions, hint, mask).claimed[regions.labels[BG]]


def cropped_skirt() -> np.ndarray:
    """A figure cropped at the bottom: a skirt of two panels runs off the bottom edge, the background around
    it touches three sides."""
    line = np.ones((S, S), np.float32)
    cv2.line(line, (24, 127), (48, 40), 0.0, 3)
    cv2.line(line, (104, 127), (80, 40), 0.0, 3)
    cv2.line(line, (48, 40), (80, 40), 0.0, 3)
    cv2.line(line, (64, 40), (64, 127), 0.0, 3)
    return line


def test_a_dot_in_a_region_that_runs_off_the_image_edge_claims_it():
    line = cropped_skirt()
    regions = segment(line)
    left, right = (110, 50), (110, 78)
    assert regions.border[regions.labels[left]] and not outer_background(regions)[regions.labels[left]]
    assert outer_background(regions)[regions.labels[8, 8]], "the paper around the figure is the background"
    hint, mask = empty()
    hint[104:116, 30:90] = BLUE  # one stroke across both panels, right to the panels' lines
    mask[104:116, 30:90] = 1
    claims = claim_regions(regions, hint, mask)
    for p in (left, right):
        assert claims.claimed[regions.labels[p]] and np.allclose(claims.color[regions.labels[p]], BLUE)


def test_a_sloppy_dot_touching_a_line_claims_the_region_it_mostly_lies_in():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, (64, 21), RED, r=3)  # A's left wall is x = 15..17: the dot covers 1 px of ink
    assert regions.ink[mask > 0].any()
    claims = claim_regions(regions, hint, mask, depth_px=8)  # no pixel of the dot lies 8 px deep
    assert claims.claimed[regions.labels[A]] and not claims.hinted[regions.labels[BG]]


def test_a_light_and_a_dark_tone_of_one_hue_claim_the_region_with_the_light_tone_shaded_by_the_model():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    slate = np.array([0.49, 0.55, 0.64])
    dot(hint, mask, (44, 40), slate)
    dot(hint, mask, (84, 40), slate * 0.6)
    claims = claim_regions(regions, hint, mask)
    la = regions.labels[A]
    assert claims.claimed[la] and claims.toned[la]
    assert np.allclose(claims.color[la], slate, atol=1e-6), "the lightest tone is the flat"
    model = np.full((S, S, 3), 0.7, np.float32)  # a brown-grey guess, darker where the dark tone was painted
    model[72:96] *= np.float32(0.6)
    model[..., 0] += 0.15
    model[..., 2] -= 0.15
    for shading in (0.0, 1.0):  # the tones ask for shading whatever the strength
        layers = compose(model, line, regions, claims, "hints-only", shading=shading)
        assert np.allclose(layers.flats[A], slate, atol=1e-6) and np.allclose(layers.flats[84, 40], slate, atol=1e-6)
        assert np.allclose(layers.shading[44, 40], 1.0), "the model is lighter than the light tone there: clipped"
        want = (model[84, 40] @ LUMA) / (slate.astype(np.float32) @ LUMA)
        assert np.allclose(layers.shading[84, 40], want, atol=1e-5) and 0.6 < want < 0.9
        assert np.abs(layers.image[84, 40] - slate * want).max() < 0.01, "the slate hue, the model's shadow"
    obeying = (np.full((S, S, 3), 1.0, np.float32) * slate.astype(np.float32)) * np.float32(0.95)
    obeying[72:96] *= np.float32(0.7)  # the model painted the slate, lighter and darker: its own colors stay
    layers = compose(obeying, line, regions, claims, "regions")
    assert np.abs(layers.image[A] - obeying[A]).max() < 0.01 and np.abs(layers.image[84, 40] - obeying[84, 40]).max() < 0.01
    half = obeying.copy()
    half[:, 40:] = np.float32([0.6, 0.4, 0.25])  # half of the region painted brown: the slate flat, shaded
    layers = compose(half, line, regions, claims, "regions")
    assert np.allclose(layers.flats[64, 56], slate, atol=1e-6) and np.allclose(layers.flats[64, 24], slate, atol=1e-6)


def test_black_beside_white_in_one_region_is_not_a_shade_and_leaves_the_region_to_the_model():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, (44, 40), np.ones(3))
    dot(hint, mask, (84, 40), np.zeros(3))
    claims = claim_regions(regions, hint, mask)
    la = regions.labels[A]
    assert claims.hinted[la] and not claims.claimed[la] and not claims.toned[la]


def test_a_shallow_piece_does_not_outvote_the_deep_hints_of_the_region_it_lies_in():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, (64, 40), RED, r=5)  # deep in A
    dot(hint, mask, (64, 21), BLUE, r=3)  # a piece of its own in A, touching A's left wall: spill from a detail
    claims = claim_regions(regions, hint, mask, depth_px=8)
    la = regions.labels[A]
    assert claims.claimed[la] and np.allclose(claims.color[la], RED, atol=1e-6)
    alone = claim_regions(regions, *_only(hint, mask, (64, 21), 3), depth_px=8)
    assert alone.claimed[la] and np.allclose(alone.color[la], BLUE, atol=1e-6), "alone it claims A"


def _only(hint, mask, yx, r):
    """The hint and mask with only the square dot of radius ``r`` at ``yx`` kept."""
    keep = np.zeros_like(mask)
    y, x = yx
    keep[y - r:y + r + 1, x - r:x + r + 1] = 1
    return hint * keep[..., None], mask * keep


def test_hints_of_different_hues_leave_the_model_its_own_colors():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, (50, 40), RED)
    dot(hint, mask, (80, 40), BLUE)
    claims = claim_regions(regions, hint, mask)
    la = regions.labels[A]
    assert claims.hinted[la] and not claims.claimed[la]
    model = model_guess()
    layers = compose(model, line, regions, claims, "regions")
    a = region_of(regions, A) & ~regions.ink
    assert np.abs(layers.image[a] - model[a] * line[a][:, None]).max() < 0.02


@pytest.mark.parametrize("mode", FLATS_MODES)
def test_flats_shading_and_line_multiply_to_the_image(mode):
    line = cv2.GaussianBlur(two_boxes(), (3, 3), 0.7)
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, A, RED)
    layers = compose(model_guess(), line, regions, claim_regions(regions, hint, mask), mode, shading=0.7)
    for name in ("flats", "shading"):
        arr = getattr(layers, name)
        assert arr.shape == (S, S, 3) and arr.min() >= 0 and arr.max() <= 1, name
    assert np.allclose(layers.image, layers.flats * layers.shading * line[..., None])
    flat_per_region = [np.unique(layers.flats[regions.labels == lab], axis=0) for lab in range(1, regions.count + 1)]
    assert all(len(colors) == 1 for colors in flat_per_region), "one flat color per region"


def test_model_mode_keeps_the_model_output_and_shading_keeps_its_light_and_shadow():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, A, RED)
    model = model_guess()
    raw = compose(model, line, regions, claim_regions(regions, hint, mask), "model")
    assert np.abs(raw.image - model * line[..., None]).max() < 0.03
    shaded = compose(model, line, regions, claim_regions(regions, hint, mask), "regions", shading=1.0)
    a = region_of(regions, A) & ~regions.ink
    top, bottom = shaded.image[A[0] - 25, A[1]], shaded.image[A[0] + 25, A[1]]
    assert bottom.sum() < top.sum() - 0.05, "the model's darkening towards the bottom shows over the flat"
    assert np.allclose(np.median(shaded.image[a], axis=0), RED, atol=0.03), "the typical pixel is the hint"


def test_the_hint_report_names_what_each_hint_claimed_and_why_a_hint_claimed_nothing():
    line = two_boxes()
    regions = segment(line)
    hint, mask = empty()
    dot(hint, mask, A, RED)
    hint[62:67, 62:67] = GREEN  # on the wall between A and B: half in each, deep in neither
    mask[62:67, 62:67] = 1
    claims = claim_regions(regions, hint, mask)
    report, count = hint_report(regions, claims, mask)
    assert count == 2
    by_x = {entry["x"]: entry for entry in report}
    assert by_x[A[1]]["regions"] == [int(regions.labels[A])] and by_x[A[1]]["reason"] is None
    assert by_x[64]["regions"] == [] and by_x[64]["reason"] == "shallow" and "shallow" in REASONS
    dot(hint, mask, (50, 88), RED)
    dot(hint, mask, (80, 88), BLUE)
    report, _ = hint_report(regions, claim_regions(regions, hint, mask), mask)
    assert [e["reason"] for e in report if e["x"] == 88] == ["disagree", "disagree"]
