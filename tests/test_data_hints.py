import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irodori.data.hints import paint_patches, sample_hint_patches, simulate_hints, simulate_strokes

N_DRAWS = 5000


@pytest.fixture(scope="module")
def draws():
    rng = np.random.default_rng(1234)
    return [sample_hint_patches(256, 320, rng) for _ in range(N_DRAWS)]


def test_patch_count_is_geometric(draws):
    counts = np.array([len(d) for d in draws])
    assert abs((counts == 0).mean() - 0.125) < 0.015  # P(N = 0) = p
    assert abs(counts.mean() - 7.0) < 0.4  # E[N] = (1 - p) / p
    assert abs((counts == 1).mean() - 0.875 * 0.125) < 0.015


def test_patch_sizes_and_area(draws):
    sizes = np.concatenate([d.sizes for d in draws])
    assert sizes.min() == 1 and sizes.max() == 8
    # uniform over 1..8: every side about 1/8 of the time
    freq = np.bincount(sizes, minlength=9)[1:] / len(sizes)
    assert np.all(np.abs(freq - 1 / 8) < 0.01)
    # summed patch area per sample: E[N] * E[s^2] = 7 * 25.5 = 178.5 (sd of the mean ~2.8)
    area = np.array([float((d.sizes ** 2).sum()) for d in draws])
    assert abs(area.mean() - 178.5) < 10


def test_corners_are_gaussian_around_the_centre(draws):
    ys = np.concatenate([d.ys + d.sizes / 2 for d in draws])
    xs = np.concatenate([d.xs + d.sizes / 2 for d in draws])
    assert abs(ys.mean() - 128) < 3 and abs(xs.mean() - 160) < 3
    assert 0.85 * 64 < ys.std() < 1.05 * 64 and 0.85 * 80 < xs.std() < 1.05 * 80


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), max_size=st.integers(1, 12), seed=st.integers(0, 2**32 - 1),
       p=st.floats(0.05, 1.0))
def test_patches_lie_inside_the_image(h, w, max_size, seed, p):
    d = sample_hint_patches(h, w, np.random.default_rng(seed), p=p, max_size=max_size)
    assert np.all(d.sizes >= 1) and np.all(d.sizes <= min(max_size, h, w))
    assert np.all(d.ys >= 0) and np.all(d.xs >= 0)
    assert np.all(d.ys + d.sizes <= h) and np.all(d.xs + d.sizes <= w)


def _reference_paint(image, patches):
    hint = np.zeros(image.shape, np.float64)
    mask = np.zeros(image.shape[:2], bool)
    for y, x, s in zip(patches.ys, patches.xs, patches.sizes):
        hint[y:y + s, x:x + s] = image[y:y + s, x:x + s].reshape(-1, 3).mean(0) / 255.0
        mask[y:y + s, x:x + s] = True
    return hint, mask


def test_patch_color_is_the_mean_inside_it():
    image = np.random.default_rng(0).integers(0, 256, size=(64, 48, 3), dtype=np.uint8)
    for seed in range(30):
        patches = sample_hint_patches(64, 48, np.random.default_rng(seed), p=0.2)
        hint, mask = simulate_hints(image, np.random.default_rng(seed), p=0.2)
        ref_hint, ref_mask = _reference_paint(image, patches)
        assert hint.dtype == np.float32 and mask.dtype == np.float32 and hint.shape == (64, 48, 3)
        np.testing.assert_array_equal(mask.astype(bool), ref_mask)
        np.testing.assert_allclose(hint, ref_hint, atol=1e-6)
        assert np.all(hint[~ref_mask] == 0)


def test_signed_channels_first_layout_matches():
    image = np.random.default_rng(1).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    for seed in range(10):
        hwc, mask = simulate_hints(image, np.random.default_rng(seed))
        chw, mask2 = simulate_hints(image, np.random.default_rng(seed), layout="chw_signed")
        np.testing.assert_array_equal(mask, mask2)
        np.testing.assert_allclose(chw, (hwc * 2 - 1).transpose(2, 0, 1) * mask, atol=1e-6)
    with pytest.raises(ValueError):
        paint_patches(image, sample_hint_patches(40, 40, np.random.default_rng(0)), layout="nchw")


def test_same_seed_same_hints():
    image = np.random.default_rng(2).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    a = simulate_hints(image, np.random.default_rng(7))
    b = simulate_hints(image, np.random.default_rng(7))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_strokes_take_the_color_under_them():
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :] = (200, 40, 10)
    for seed in range(10):
        hint, mask = simulate_strokes(image, np.random.default_rng(seed))
        assert mask.sum() > 0 and set(np.unique(mask)) <= {0.0, 1.0}
        on = hint[mask > 0]
        np.testing.assert_allclose(on, np.broadcast_to(np.array([200, 40, 10]) / 255.0, on.shape), atol=1e-6)
        assert np.all(hint[mask == 0] == 0)
    # drawn over existing hints, in either layout
    base_hint, base_mask = simulate_hints(image, np.random.default_rng(3), p=0.01, layout="chw_signed")
    before = base_mask.sum()
    hint, mask = simulate_strokes(image, np.random.default_rng(3), hint=base_hint, mask=base_mask,
                                  layout="chw_signed")
    assert mask.sum() >= before and hint.shape == (3, 64, 64)
    np.testing.assert_allclose(hint[:, mask > 0].T, np.broadcast_to(np.array([200, 40, 10]) / 127.5 - 1,
                                                                      (int(mask.sum()), 3)), atol=1e-6)


# --- region hints (Hint-AUC style scribbles and dots) ---------------------------------------------

from irodori.data import draw_shapes  # noqa: E402
from irodori.data.hints import longest_path, sample_region_ratio, segment_colors, simulate_region_hints  # noqa: E402

_QUADS = np.array([[200, 40, 40], [40, 160, 60], [30, 60, 200], [240, 220, 40]], np.uint8)


def _quadrants(size=128):
    img = np.zeros((size, size, 3), np.uint8)
    h = size // 2
    for i, (ys, xs) in enumerate([(slice(0, h), slice(0, h)), (slice(0, h), slice(h, None)),
                                  (slice(h, None), slice(0, h)), (slice(h, None), slice(h, None))]):
        img[ys, xs] = _QUADS[i]
    return img


def test_region_hints_color_every_region_with_its_mean_at_ratio_one():
    img = _quadrants()
    hint, mask = simulate_region_hints(img, np.random.default_rng(0), ratio=1.0, dot_prob=0.0)
    colors = {tuple(np.rint(c * 255).astype(int)) for c in hint[mask > 0]}
    assert colors == {tuple(int(v) for v in c) for c in _QUADS}
    under = img[mask > 0].astype(int)  # each stroke lies inside its own region: color = the truth under it
    assert np.abs(np.rint(hint[mask > 0] * 255).astype(int) - under).max() == 0


def test_region_ratio_zero_gives_no_hint_and_small_ratios_hint_the_largest_region_first():
    img = np.full((128, 128, 3), 250, np.uint8)
    img[:40, :40] = (200, 30, 30)  # one small region on a large background
    _, mask = simulate_region_hints(img, np.random.default_rng(0), ratio=0.0)
    assert mask.sum() == 0
    hint, mask = simulate_region_hints(img, np.random.default_rng(0), ratio=0.01, dot_prob=0.0)
    assert mask.sum() > 0 and np.allclose(hint[mask > 0], 250 / 255, atol=1 / 255)


def test_region_strokes_are_blocks_of_the_grid_and_dots_one_cell_per_region():
    img = _quadrants(256)
    _, mask = simulate_region_hints(img, np.random.default_rng(1), ratio=1.0, dot_prob=0.0)
    blocks = mask.reshape(64, 4, 64, 4)
    assert (blocks == blocks[:, :1, :, :1]).all()  # 4x4 px cells at 256 px: nearest upsampling of 64x64
    _, dots = simulate_region_hints(img, np.random.default_rng(1), ratio=1.0, dot_prob=1.0)
    assert dots.sum() == 4 * 16  # one 4x4 cell in each of the 4 regions


def test_scribble_follows_the_length_of_an_elongated_region():
    img = np.full((128, 128, 3), 255, np.uint8)
    img[56:72, 8:120] = (30, 90, 200)  # a long bar
    hint, mask = simulate_region_hints(img, np.random.default_rng(0), ratio=1.0, dot_prob=0.0)
    on_bar = (mask > 0) & (np.abs(hint - np.array([30, 90, 200]) / 255).max(-1) < 1e-6)
    xs = np.nonzero(on_bar)[1]
    assert xs.max() - xs.min() >= 0.7 * 112


def test_longest_path_of_a_tree_runs_between_its_far_ends():
    cells = [(0, x) for x in range(6)] + [(y, 2) for y in range(1, 3)]  # a T
    path = longest_path(cells)
    assert {path[0], path[-1]} == {(0, 0), (0, 5)} and len(path) == 6


def test_region_ratio_draws_none_all_and_log_uniform_between():
    rng = np.random.default_rng(0)
    r = np.array([sample_region_ratio(rng) for _ in range(4000)])
    assert 0.07 < (r == 0).mean() < 0.13 and 0.07 < (r == 1).mean() < 0.13
    mid = r[(r > 0) & (r < 1)]
    assert mid.min() >= 1 / 64 and 0.4 < (mid < 0.125).mean() < 0.6  # log-uniform: half below the geometric mean


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), size=st.sampled_from([32, 64, 96, 256]))
def test_region_hints_are_well_formed_and_deterministic(seed, size):
    img = draw_shapes(size, np.random.default_rng(seed))
    hint, mask = simulate_region_hints(img, np.random.default_rng(seed), layout="chw_signed")
    again, mask2 = simulate_region_hints(img, np.random.default_rng(seed), layout="chw_signed")
    assert hint.shape == (3, size, size) and mask.shape == (size, size)
    assert hint.dtype == mask.dtype == np.float32
    assert np.array_equal(hint, again) and np.array_equal(mask, mask2)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert (hint[:, mask == 0] == 0).all() and hint.min() >= -1 and hint.max() <= 1
    labels, small = segment_colors(img, np.random.default_rng(seed))
    assert labels.min() >= 1 and small.shape == (64, 64, 3)


def test_training_and_inference_encode_the_same_sample_identically():
    """The generator sees one input encoding: a training sample (``data/hints.py`` in the model's layout,
    ``unit_to_tensor``) and the pipeline's inputs for the same line art and hints (a ``HintLayer`` through
    ``resize_hints`` and ``model_inputs``) are the same tensors."""
    import torch

    from irodori.colorize.imageio import model_inputs
    from irodori.data.imageio import unit_to_tensor
    from irodori.data.hints import HintPatches
    from irodori.colorize.hint_input import HintLayer, resize_hints

    rng = np.random.default_rng(7)
    h, w = 48, 64
    line = rng.random((h, w), dtype=np.float32)
    image = np.repeat(np.repeat(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), 8, axis=0), 8, axis=1)
    patches = HintPatches(ys=np.array([0, 8, 24, 40]), xs=np.array([0, 16, 40, 56]), sizes=np.array([8, 8, 8, 8]))
    hint_chw, mask = paint_patches(image, patches, layout="chw_signed")
    trained = {"line": unit_to_tensor(line), "hint": torch.from_numpy(hint_chw), "mask": torch.from_numpy(mask[None])}

    hint_hwc, _ = paint_patches(image, patches, layout="hwc")
    layer = HintLayer(np.round(hint_hwc * 255).astype(np.uint8), mask > 0)
    line_t, hint_t, mask_t = model_inputs(line, *resize_hints(layer, h, w))

    assert torch.equal(line_t[0], trained["line"])
    assert torch.equal(mask_t[0], trained["mask"])
    assert torch.allclose(hint_t[0], trained["hint"], atol=1e-6)
    assert trained["mask"].sum() == 4 * 64
