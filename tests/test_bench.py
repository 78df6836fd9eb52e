import re

from irodori.cli import main


def test_bench_infer_prints_ratio_last(capsys):
    assert main(["bench", "infer", "--preset", "tiny", "--size", "32", "--n", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"ratio_to_flop_bound=\d+\.\d+", lines[-1])
    median = float(next(line for line in lines if line.startswith("median_ms=")).split("=")[1])
    assert median > 0


def test_bench_train_prints_images_per_s(capsys):
    assert main(["bench", "train", "--preset", "tiny", "--n", "1", "--batch", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert float(re.fullmatch(r"images_per_s=(\d+\.\d+)", last).group(1)) > 0
