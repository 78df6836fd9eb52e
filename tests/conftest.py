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
    for var in ("IRODORI_VGG19", "IRODORI_FID_INCEPTION", "IRODORI_SKETCHKERAS", "IRODORI_SIMPLIFICATION"):
        monkeypatch.delenv(var, raising=False)


TINY_WIDTHS = [
    "generator.channels=[8,16,16,32,32]", "generator.num_blocks=2", "generator.hint_channels=8",
    "generator.attention_channels=8", "generator.learned_encoder_channels=[8,8,16,16]", "discriminator.ndf=8",
]
