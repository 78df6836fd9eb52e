import os
import re

import pytest

from irodori.cli import main
from irodori.perf import burner_core, contention_figures, cpu_burner
from irodori.threads import ThreadChoice


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


def test_bench_infer_contended_prints_every_key(capsys):
    assert main(["bench", "infer", "--preset", "tiny", "--size", "32", "--n", "1", "--contended"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("idle_ms="))
    values = dict(kv.split("=") for kv in line.split())
    assert set(values) == {"idle_ms", "contended_ms", "best_fixed_ms", "slowdown", "policy_ratio"}
    assert all(float(v) > 0 for v in values.values())
    assert re.search(r"^threads=\d+$", out, re.M)
    assert out.strip().splitlines()[-1].startswith("ratio_to_flop_bound=")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_burner_is_killed_when_its_block_fails():
    with pytest.raises(RuntimeError):
        with cpu_burner(burner_core()) as proc:
            assert proc.poll() is None, "the burner runs inside the block"
            raise RuntimeError("benchmark failed")
    assert proc.returncode is not None and not _alive(proc.pid)


def test_the_burner_stops_by_itself_at_its_time_bound():
    with cpu_burner(burner_core(), seconds=0.05) as proc:
        proc.wait(timeout=10)
        assert proc.returncode == 0


def test_contention_figures_time_every_thread_count_beside_a_burner_then_stop_it():
    seen = []

    def runner(threads):
        return lambda: seen.append(threads)

    pick = iter([ThreadChoice(2, "auto", 2, 0.0), ThreadChoice(1, "auto", 2, 1.0)])
    c = contention_figures(runner, 1, lambda: next(pick), cores=2)
    assert set(seen) == {1, 2} and c["contended_choice"].threads == 1
    assert set(c["fixed_ms"]) == {1, 2} and c["best_fixed_ms"] == min(c["fixed_ms"].values())
    assert c["policy_ratio"] == pytest.approx(c["contended_ms"] / c["best_fixed_ms"])
    assert c["slowdown"] == pytest.approx(c["contended_ms"] / c["idle_ms"])
    assert c["burner_ran"] is True


def test_contention_figures_stop_the_burner_when_the_runner_fails(monkeypatch):
    import irodori.perf as perf

    started = []
    real = perf.cpu_burner

    def spy(*a, **k):
        cm = real(*a, **k)
        started.append(cm)
        return cm
    monkeypatch.setattr(perf, "cpu_burner", spy)

    def runner(threads):
        def call():
            if started:
                raise RuntimeError("forward failed under load")
        return call

    with pytest.raises(RuntimeError):
        contention_figures(runner, 1, lambda: ThreadChoice(1, "auto", 1, 0.0), cores=1)
    assert len(started) == 1
    assert not [p for p in _children() if "sched_setaffinity" in p], "no burner left running"


def _children() -> list[str]:
    """Command lines of this process's live children (Linux)."""
    out = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid():
                with open(f"/proc/{pid}/cmdline") as f:
                    out.append(f.read())
        except (OSError, ValueError, IndexError):
            continue
    return out


def test_bench_regions_runs_with_the_thread_policy(capsys, model_path):
    assert main(["bench", "regions", "--size", "64", "--n", "1", "--model", str(model_path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 thread (--threads)" in out and re.search(r"colorize_layers_ms=\d", out)
