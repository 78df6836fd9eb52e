import re

import pytest

from irodori.cli import main
from irodori.config import PRESETS


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_info_last_line_has_params_and_macs(preset, capsys):
    assert main(["info", "--preset", preset, "--size", "64"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = re.fullmatch(r"params=(\d+) macs=(\d+)", last)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) > 0


def test_paper_preset_size_is_in_the_expected_range(capsys):
    assert main(["info", "--preset", "paper", "--size", "512"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    params, macs = map(int, re.findall(r"\d+", last))
    assert 20_000_000 <= params <= 120_000_000
    # MACs scale with the pixel count
    main(["info", "--preset", "paper", "--size", "256"])
    params2, macs2 = map(int, re.findall(r"\d+", capsys.readouterr().out.strip().splitlines()[-1]))
    assert params2 == params and 3.5 < macs / macs2 < 4.5


def test_unknown_preset_exits_nonzero_listing_presets(capsys):
    assert main(["info", "--preset", "nope"]) != 0
    err = capsys.readouterr().err
    assert "unknown preset" in err and "paper" in err and "tiny" in err


def test_building_the_command_line_does_not_import_torch():
    """`irodori --help` and argument errors stay instant: subcommands import torch only when they run."""
    import subprocess
    import sys

    code = ("import sys; from irodori.cli import _commands, build_parser; build_parser(_commands()); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
