import contextlib
import os
import socket
import threading
import time

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


@contextlib.contextmanager
def serving(config):
    """A uvicorn server for ``config`` on a thread, on a free loopback port: yields its ``(host, port)``."""
    import uvicorn

    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
