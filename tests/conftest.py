import os

import pytest
import torch

# Tests never touch the network: weight resolution must fail fast instead of downloading.
os.environ["IRODORI_OFFLINE"] = "1"
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IRODORI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for var in ("IRODORI_VGG19", "IRODORI_FID_INCEPTION", "IRODORI_SKETCHKERAS", "IRODORI_SIMPLIFICATION",
                "IRODORI_NSFWJS_INCEPTION"):
        monkeypatch.delenv(var, raising=False)


TINY_WIDTHS = [
    "generator.channels=[8,16,16,32,32]", "generator.num_blocks=2", "generator.hint_channels=8",
    "generator.attention_channels=8", "generator.learned_encoder_channels=[8,8,16,16]", "discriminator.ndf=8",
]


def cross_lineart(w: int = 90, h: int = 60):
    """White w x h uint8 line art with one horizontal and one vertical line (four closed regions)."""
    import numpy as np

    a = np.full((h, w), 255, np.uint8)
    a[h // 2, :] = 0
    a[:, w // 3] = 0
    return a


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny residual-output release (random weights, step 7) for pipeline and CLI tests."""
    from irodori.config import load_config
    from irodori.models import build_generator
    from irodori.release import save_release

    torch.manual_seed(0)
    cfg = load_config("tiny", ["generator.output=residual", "data.size=64"])
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_release(build_generator(cfg.generator).state_dict(), cfg, path, step=7)
    return path
