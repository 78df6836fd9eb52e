"""How many CPU threads inference uses, how idle threads wait, and how freed memory is kept: the CPU and memory
settings an entry point makes once, the thread count chosen from the cores free right now.

A laptop always has something else running. When one of two cores is busy, two inference threads wait on
each other at every layer when they spin while waiting (the one sharing its core with the other program is
descheduled for whole time slices): measured 1.7-3x slower than one thread. So the thread count is the number of
usable cores (affinity, and the cgroup CPU quota where one is set) minus the cores other processes keep
busy, sampled briefly from ``/proc/stat`` (``os.getloadavg`` where there is no ``/proc``), at least one.

Precedence: ``--threads N`` (a command's flag), then ``$IRODORI_THREADS``, then that automatic choice
(``0`` or ``auto`` in either place also mean automatic).

Idle OpenMP threads sleep rather than spin, or they take CPU time from the user's other programs and, under
load, wait on each other: :func:`configure_openmp` sets ``OMP_WAIT_POLICY=PASSIVE`` (GNU libgomp, which
Linux torch wheels use) and ``KMP_BLOCKTIME=0`` (Intel and LLVM OpenMP: macOS, Windows) unless the user set
a wait policy. The OpenMP runtime reads these once, when torch loads it, so the entry point
(``irodori.cli.main``) calls it before anything imports torch; later calls change nothing and say so.

Entry points call :func:`apply` once; the web app reports :func:`describe` in ``/api/health``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass

from irodori.config import whole_number
from irodori.errors import ConfigError

ENV_THREADS = "IRODORI_THREADS"
#: Wait policy of idle OpenMP threads: sleep at once instead of spinning.
OPENMP_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
#: Cores' worth of other processes' load tolerated before a core counts as taken, so that background noise
#: (a terminal, an idle browser tab) does not cost a thread. A judgement: only a fully busy core (the burner
#: of `irodori bench infer --contended`) has been measured.
TOLERATED_LOAD = 0.25
#: How long :func:`sample_busy_cores` watches ``/proc/stat`` (10 clock ticks at the usual 100 Hz).
SAMPLE_S = 0.1


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count in effect and why: ``source`` is ``--threads``, ``IRODORI_THREADS`` or ``auto``;
    ``cores`` the usable cores; ``busy`` other processes' load in cores when the choice was made (auto)."""

    threads: int
    source: str
    cores: int
    busy: float | None = None

    def __str__(self) -> str:
        why = f"{self.source}" if self.busy is None else f"auto: {self.cores} cores, {self.busy:.2f} busy"
        return f"{self.threads} thread{'s' if self.threads != 1 else ''} ({why})"

    def as_dict(self) -> dict:
        return asdict(self)


def parse_threads(value, what: str = "--threads") -> int | None:
    """A thread count from a flag or the environment: a positive integer, or None for automatic
    (None, empty, ``0``, ``auto``). Anything else is a :class:`ConfigError` naming ``what``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto", "0")):
        return None
    try:
        n = value if isinstance(value, int) and not isinstance(value, bool) else whole_number(value.strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a positive whole number or 'auto', got {value!r}") from None
    if n == 0:
        return None
    if n < 0 or n > 1024:
        raise ConfigError(f"{what} must be a positive whole number (at most 1024) or 'auto', got {value!r}")
    return n


def quota_cores(cpu_max: str) -> float | None:
    """Cores allowed by a cgroup v2 ``cpu.max`` line (``"150000 100000"`` -> 1.5; ``"max 100000"`` -> None)."""
    parts = cpu_max.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        return int(parts[0]) / int(parts[1])
    except (ValueError, ZeroDivisionError):
        return None


def affinity_cpus() -> set[int]:
    """The CPUs this process may run on (every CPU where the platform has no affinity call)."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:
        return set(range(os.cpu_count() or 1))


def usable_cores(cpus: set[int], cpu_max: str | None = None) -> int:
    """``len(cpus)``, capped by a cgroup CPU quota (rounded up: 1.5 cores' quota runs 2 threads)."""
    quota = quota_cores(cpu_max) if cpu_max else None
    return max(1, min(len(cpus), math.ceil(quota)) if quota else len(cpus))


def parse_proc_stat(text: str) -> dict[int, tuple[int, int]]:
    """``/proc/stat``'s per-CPU lines as cpu -> (busy ticks, total ticks); iowait counts as idle, steal as busy."""
    out = {}
    for line in text.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or len(fields) < 4:
            continue
        ticks = [int(f) for f in fields[:8]]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        out[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return out


def busy_cores(before: dict, after: dict, cpus: set[int], own_cores: float = 0.0) -> float:
    """Cores' worth of load on ``cpus`` between two :func:`parse_proc_stat` snapshots, less this process's
    own ``own_cores`` (its CPU seconds over the wall time), never below zero."""
    load = 0.0
    for cpu in cpus & before.keys() & after.keys():
        total = after[cpu][1] - before[cpu][1]
        if total > 0:
            load += (after[cpu][0] - before[cpu][0]) / total
    return max(0.0, load - own_cores)


def choose_threads(cores: int, busy: float, tolerated: float = TOLERATED_LOAD) -> int:
    """Threads for ``cores`` usable cores of which others keep ``busy`` cores' worth busy: each started
    core of load beyond ``tolerated`` takes one core away; at least one thread."""
    taken = max(0, math.ceil(busy - tolerated - 1e-9))
    return max(1, min(cores, cores - taken))


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def sample_busy_cores(cpus: set[int], seconds: float = SAMPLE_S) -> float:
    """Other processes' load on ``cpus``, in cores: ``/proc/stat`` watched for ``seconds``; where there is
    no ``/proc/stat``, the 1-minute load average capped at the core count."""
    first = _read("/proc/stat")
    if first is None:
        try:
            return min(float(len(cpus)), os.getloadavg()[0])
        except (AttributeError, OSError):
            return 0.0
    t0, c0 = time.perf_counter(), _own_cpu_s()
    time.sleep(seconds)
    second = _read("/proc/stat") or first
    own = (_own_cpu_s() - c0) / max(time.perf_counter() - t0, 1e-6)
    return busy_cores(parse_proc_stat(first), parse_proc_stat(second), cpus, own)


def resolve(flag=None, environ=None, sample=sample_busy_cores) -> ThreadChoice:
    """The thread count ``flag`` (a ``--threads`` value), ``$IRODORI_THREADS`` or the free cores give."""
    environ = os.environ if environ is None else environ
    cpus = affinity_cpus()
    cores = usable_cores(cpus, _read("/sys/fs/cgroup/cpu.max"))
    n = parse_threads(flag, "--threads")
    if n is not None:
        return ThreadChoice(n, "--threads", cores)
    n = parse_threads(environ.get(ENV_THREADS), ENV_THREADS)
    if n is not None:
        return ThreadChoice(n, ENV_THREADS, cores)
    busy = sample(cpus)
    return ThreadChoice(choose_threads(cores, busy), "auto", cores, round(busy, 2))


def configure_openmp(environ=None) -> bool:
    """Set :data:`OPENMP_ENV` (idle OpenMP threads sleep at once instead of spinning) where the user has set
    none of ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``, ``KMP_BLOCKTIME``, if torch is not imported yet (its
    OpenMP runtime reads them only when it loads). Returns whether it was in time: call it first thing in
    an entry point.

    Measured on a 2-core VM, bundled model at 512 px, 2 threads (benchmarks/wait_policy.sh): with another
    program busy on one core, the runtime's default spinning made a forward 3.3x slower than idle, sleeping
    1.03x the best fixed thread count; on an idle machine sleeping costs 5-8% (fp32) to 10-19% (bf16), the
    wake-ups at each of a forward's parallel regions. ``OMP_WAIT_POLICY=ACTIVE`` gets the spin back on a
    machine that runs nothing else."""
    if "torch" in sys.modules:
        return False
    environ = os.environ if environ is None else environ
    if not any(key in environ for key in (*OPENMP_ENV, "GOMP_SPINCOUNT")):
        environ.update(OPENMP_ENV)
    return True


def wait_policy() -> str:
    """The OpenMP wait policy in effect, as the runtime read it (``default`` when unset)."""
    return os.environ.get("OMP_WAIT_POLICY", "default").lower()


def apply(flag=None, per_worker: int = 1) -> ThreadChoice:
    """Resolve the thread count (:func:`resolve`), divide it among ``per_worker`` concurrent inferences,
    and set it in torch; returns the choice (``threads`` = each inference's share)."""
    import torch

    choice = resolve(flag)
    if per_worker > 1:
        choice = ThreadChoice(max(1, choice.threads // per_worker), choice.source, choice.cores, choice.busy)
    torch.set_num_threads(choice.threads)
    return choice


def describe() -> dict:
    """What ``/api/health`` shows: torch's thread count, the usable cores, the wait policy, the override."""
    import torch

    return {"threads": torch.get_num_threads(), "cores": usable_cores(affinity_cpus(),
                                                                      _read("/sys/fs/cgroup/cpu.max")),
            "wait_policy": wait_policy(), "override": os.environ.get(ENV_THREADS) or None}


#: glibc's ``mallopt`` parameters (``malloc.h``).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4


def _glibc():
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return libc


def mallopt(settings: dict[int, int]) -> bool:
    """Set glibc malloc parameters (``M_*`` above), in order: the one wrapper of ``mallopt(3)``. A
    process-wide setting for entry points. True when every one took; False, changing nothing, where the C
    library is not glibc."""
    import ctypes

    libc = _glibc()
    if libc is None:
        return False
    call = libc.mallopt
    call.argtypes, call.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all([bool(call(param, int(value))) for param, value in settings.items()])


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of returning it to the OS: no mmap for
    large blocks (torch's activations at 512 px and up), no heap trimming. Each forward then reuses the
    pages of the previous one instead of faulting in fresh zeroed pages: one thread, bundled model, fp32
    at 512 px 6% faster, bf16 at 1024 px 12% (benchmarks/profile_infer.py --allocator); numerics
    unchanged. The process keeps its peak memory. A process-wide setting: entry points call it, once.
    False (nothing changed) where the C library is not glibc."""
    return mallopt({M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2**31 - 1})


def release_freed_memory() -> bool:
    """Hand the memory glibc's malloc holds free back to the OS (``malloc_trim(0)``: every arena, free pages
    inside the heap too). The counterpart of :func:`keep_freed_memory` for after a rare large job: the server
    calls it after a request over ``irodori.web.uploads.TRIM_PIXELS``, so one 16 MP request does not leave a
    gigabyte resident for good, while ordinary requests keep reusing their pages. False where the C library is
    not glibc."""
    import ctypes

    libc = _glibc()
    if libc is None:
        return False
    trim = libc.malloc_trim
    trim.argtypes, trim.restype = (ctypes.c_size_t,), ctypes.c_int
    return bool(trim(0))
