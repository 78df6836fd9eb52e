"""The thread policy (irodori.threads): pure choices from affinity and load, overrides, validation."""

import json
import os
import subprocess
import sys

import pytest

from irodori import threads
from irodori.cli import main
from irodori.errors import ConfigError

STAT_BEFORE = """cpu  300 0 100 600 0 0 0 0 0 0
cpu0 100 0 50 350 0 0 0 0 0 0
cpu1 200 0 50 250 0 0 0 0 0 0
intr 1 2 3
"""
# cpu0: 10 of 100 ticks busy; cpu1: 95 of 100 busy (5 of them iowait, which counts as idle: 90 busy).
STAT_AFTER = """cpu  0 0 0 0 0 0 0 0 0 0
cpu0 105 0 55 440 0 0 0 0 0 0
cpu1 285 0 55 255 5 0 0 0 0 0
"""


def test_a_free_machine_gets_every_core():
    assert threads.choose_threads(cores=8, busy=0.0) == 8
    assert threads.choose_threads(cores=2, busy=0.2) == 2


def test_each_busy_core_beyond_the_tolerance_takes_one_thread_away():
    assert threads.choose_threads(cores=2, busy=1.0) == 1
    assert threads.choose_threads(cores=8, busy=1.0) == 7
    assert threads.choose_threads(cores=8, busy=2.6) == 5


def test_a_saturated_machine_still_gets_one_thread():
    assert threads.choose_threads(cores=2, busy=2.0) == 1
    assert threads.choose_threads(cores=4, busy=40.0) == 1


def test_proc_stat_is_read_per_cpu_with_iowait_idle():
    assert threads.parse_proc_stat(STAT_BEFORE) == {0: (150, 500), 1: (250, 500)}
    before, after = threads.parse_proc_stat(STAT_BEFORE), threads.parse_proc_stat(STAT_AFTER)
    assert threads.busy_cores(before, after, {0, 1}) == pytest.approx(0.10 + 0.90)


def test_load_is_counted_only_on_this_process_cpus_and_without_its_own_share():
    before, after = threads.parse_proc_stat(STAT_BEFORE), threads.parse_proc_stat(STAT_AFTER)
    assert threads.busy_cores(before, after, {1}) == pytest.approx(0.90)
    assert threads.busy_cores(before, after, {0, 1}, own_cores=0.5) == pytest.approx(0.50)
    assert threads.busy_cores(before, after, {0}, own_cores=3.0) == 0.0
    assert threads.busy_cores(before, after, {7}) == 0.0


def test_a_cgroup_quota_caps_the_cores_rounded_up():
    assert threads.quota_cores("150000 100000") == 1.5
    assert threads.quota_cores("max 100000") is None
    assert threads.usable_cores({0, 1, 2, 3}, "150000 100000\n") == 2
    assert threads.usable_cores({0, 1}, "max 100000") == 2
    assert threads.usable_cores({0, 1, 2}, None) == 3


def test_the_flag_beats_the_environment_which_beats_the_load():
    never = lambda cpus: pytest.fail("an override must not sample the load")  # noqa: E731
    assert threads.resolve("3", {"IRODORI_THREADS": "5"}, sample=never).threads == 3
    choice = threads.resolve(None, {"IRODORI_THREADS": "5"}, sample=never)
    assert (choice.threads, choice.source) == (5, "IRODORI_THREADS")
    auto = threads.resolve(None, {}, sample=lambda cpus: 99.0)
    assert (auto.threads, auto.source, auto.busy) == (1, "auto", 99.0)


@pytest.mark.parametrize("value", [None, "", "auto", "AUTO", "0", 0])
def test_zero_auto_and_nothing_mean_automatic(value):
    assert threads.parse_threads(value) is None


@pytest.mark.parametrize("value", ["-1", -1, "two", "1.5", "100000"])
def test_a_bad_thread_count_is_a_config_error_naming_its_source(value):
    with pytest.raises(ConfigError, match="IRODORI_THREADS"):
        threads.parse_threads(value, "IRODORI_THREADS")


def test_threads_minus_one_is_a_one_line_error_with_exit_2(capsys):
    assert main(["bench", "infer", "--preset", "tiny", "--size", "32", "--n", "1", "--threads", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--threads" in err and "-1" in err


def test_a_bad_environment_value_is_a_one_line_error_with_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("IRODORI_THREADS", "lots")
    assert main(["bench", "infer", "--preset", "tiny", "--size", "32", "--n", "1"]) == 2
    assert "IRODORI_THREADS" in capsys.readouterr().err


def _configure_in_fresh_process(env: dict) -> dict:
    """Run configure_openmp on ``env`` in a process without torch; the resulting env."""
    code = ("import json, sys; from irodori import threads; e = json.loads(sys.argv[1]); "
            "ok = threads.configure_openmp(e); print(json.dumps([ok, e]))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(env)], capture_output=True, text=True, check=True)
    ok, result = json.loads(out.stdout)
    assert ok, "in time: torch not imported yet"
    return result


def test_openmp_threads_sleep_instead_of_spinning():
    assert _configure_in_fresh_process({"PATH": "x"}) == {"PATH": "x", "OMP_WAIT_POLICY": "PASSIVE",
                                                          "KMP_BLOCKTIME": "0"}


def test_the_users_own_openmp_settings_are_left_alone():
    for env in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"}, {"KMP_BLOCKTIME": "5"}):
        assert _configure_in_fresh_process(env) == env


def test_configuring_openmp_after_torch_loaded_changes_nothing():
    env = {}
    assert threads.configure_openmp(env) is False and env == {}


def test_the_cli_waits_passively_when_configured_before_torch_loads():
    code = ("import sys; from irodori import threads; threads.configure_openmp(); "
            "from irodori.cli import main; sys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", code, "bench", "infer", "--preset", "tiny", "--size", "32", "--n", "1",
                          "--threads", "1"], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME",
                                                                              "GOMP_SPINCOUNT")}).stdout
    assert "OpenMP wait policy passive" in out and "1 thread (--threads)" in out


def test_describe_reports_threads_cores_and_policy(monkeypatch):
    monkeypatch.setenv("IRODORI_THREADS", "1")
    d = threads.describe()
    assert set(d) == {"threads", "cores", "wait_policy", "override"}
    assert d["threads"] >= 1 and d["cores"] >= 1 and d["override"] == "1"


def test_apply_sets_torch_threads_and_splits_them_among_workers(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("IRODORI_THREADS", "4")
        choice = threads.apply(None, per_worker=2)
        assert (choice.threads, torch.get_num_threads()) == (2, 2)
        assert str(choice) == "2 threads (IRODORI_THREADS)"
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs /proc/stat")
def test_sampling_the_live_load_gives_a_number_within_the_cores():
    cpus = threads.affinity_cpus()
    busy = threads.sample_busy_cores(cpus, 0.02)
    assert 0.0 <= busy <= len(cpus) + 1e-6
