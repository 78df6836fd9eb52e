"""The bounded work queue: ``workers`` inferences at once, ``queue_size`` more waiting, 503 past that.

A request whose client hangs up while it waits is dropped from the queue (the page cancels stale previews).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from starlette.requests import Request


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"busy, retry after {retry_after} s")
        self.retry_after = retry_after


class WorkQueue:
    """``workers`` threads run jobs, at most ``queue_size`` more wait for one, and :meth:`submit` refuses the rest.

    Counters are guarded by a lock (jobs finish on worker threads), so one queue may serve several event loops.
    """

    def __init__(self, workers: int, queue_size: int):
        if workers < 1 or queue_size < 0:
            raise ValueError(f"need workers >= 1 and queue_size >= 0, got {workers} and {queue_size}")
        self.workers, self.queue_size = workers, queue_size
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="irodori-colorize")
        self._lock = threading.Lock()
        self._pending = 0  # admitted and not finished: running + waiting
        self._running = 0
        self._mean_seconds = 1.0  # a prior until the first job has been timed
        self._timed_jobs = 0

    @property
    def capacity(self) -> int:
        return self.workers + self.queue_size

    def stats(self) -> dict:
        with self._lock:
            return {"workers": self.workers, "queue_size": self.queue_size, "running": self._running,
                    "waiting": self._pending - self._running, "mean_seconds": round(self._mean_seconds, 3)}

    def retry_after(self) -> int:
        """Seconds until a slot is likely to be free again: the mean time of one job."""
        return int(min(300, max(1, math.ceil(self._mean_seconds))))

    def full(self) -> bool:
        """Whether :meth:`submit` would refuse a job now."""
        with self._lock:
            return self._pending >= self.capacity

    def submit(self, fn, *args) -> Future:
        with self._lock:
            if self._pending >= self.capacity:
                raise QueueFull(self.retry_after())
            self._pending += 1
        try:
            future = self._pool.submit(self._timed, fn, args)
        except RuntimeError:  # shut down
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def _timed(self, fn, args):
        with self._lock:
            self._running += 1
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            seconds = time.perf_counter() - start
            with self._lock:
                self._running -= 1
                self._mean_seconds = seconds if self._timed_jobs == 0 else 0.8 * self._mean_seconds + 0.2 * seconds
                self._timed_jobs += 1

    def _release(self, _future) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ClientGone(Exception):
    pass


async def _wait_for_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def result_unless_client_leaves(request: Request, future: Future):
    """The job's result; if the client hangs up first, cancel the job (a no-op once it runs) and raise ClientGone."""
    job = asyncio.wrap_future(future)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait({job, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if job in done:
            return job.result()
        future.cancel()
        raise ClientGone()
    except asyncio.CancelledError:
        future.cancel()
        raise
    finally:
        watcher.cancel()
