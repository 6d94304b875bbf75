"""Worker processes for the CPU-bound stages, replaced after a number of jobs.

Extraction and enrichment run in pools of worker processes, and both libraries grow a
worker's memory over a long run (trafilatura leaks, spaCy's string store keeps every new word),
so workers are replaced after `jobs_per_worker` jobs each. Python 3.11's own
`ProcessPoolExecutor(max_tasks_per_child=...)` deadlocks when a worker retires while jobs are
queued (CPython issue gh-115634, fixed only in later releases), so the replacement happens a
level up: after `workers x jobs_per_worker` jobs the executor is retired (the jobs it holds
still finish, then its workers exit) and a fresh one takes the next jobs.

Workers come from a "forkserver", not "fork": the calling process runs threads (Prefect's event
loop, the log and event shippers, the flow's task threads), and forking a threaded process
copies locks those threads may hold. The fork server imports `preload` once, so a new worker
starts with it loaded (the first pool of a process decides what the server preloads).

A worker exits when the process that started its pool is gone (killed, or a cancelled flow
run's process stopped): left alone, such orphans were seen busy for ten minutes and more, and
they keep the fork server alive too, since every worker holds its "client alive" pipe.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import cache


class RecyclingPool:
    """A process pool, thread-safe, whose workers are replaced after `jobs_per_worker` jobs each."""

    def __init__(
        self,
        workers: int,
        jobs_per_worker: int,
        preload: Sequence[str] = (),
        initializer: Callable | None = None,
        initargs: tuple = (),
    ) -> None:
        """
        Args:
            workers: processes at a time.
            jobs_per_worker: jobs a generation of workers takes per worker; 0 = never replaced.
            preload: modules the fork server imports before forking any worker.
            initializer: called with `initargs` in each worker before its first job.
        """
        self.workers, self.jobs_per_worker = workers, jobs_per_worker
        self._initializer, self._initargs = initializer, initargs
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._jobs = 0
        self.generations = 0  # executors started so far (for tests and benches)

    def submit(self, fn: Callable, *args) -> Future:
        """Queue `fn(*args)` on a worker; a fresh generation of workers takes over when due."""
        with self._lock:
            if self._executor is None or (self.jobs_per_worker and self._jobs >= self.jobs_per_worker * self.workers):
                self._retire()
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=self._context, initializer=_start_worker,
                    initargs=(os.getpid(), self._initializer, self._initargs),
                )
                self._jobs = 0
                self.generations += 1
            self._jobs += 1
            return self._executor.submit(fn, *args)

    def map(self, fn: Callable, *iterables) -> list:
        """`fn` over the iterables' items on the workers, the results in order."""
        return [future.result() for future in [self.submit(fn, *args) for args in zip(*iterables)]]

    def restart(self) -> None:
        """Retire the current workers (after a worker died and broke them); the next job starts new ones."""
        with self._lock:
            self._retire()

    def shutdown(self) -> None:
        """Stop the workers, dropping the jobs not started yet."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _retire(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)  # its queued jobs still run; then its workers exit
        self._executor = None


def _start_worker(owner: int, initializer: Callable | None, initargs: tuple) -> None:
    """In a new worker: watch the pool's owner process, then run the pool's own initializer."""
    threading.Thread(target=_exit_without, args=(owner,), name="owner-watch", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_without(owner: int, every: float = 1.0) -> None:
    """End this worker as soon as process `owner` no longer exists."""
    while True:
        time.sleep(every)
        try:
            os.kill(owner, 0)
        except (ProcessLookupError, PermissionError):  # gone, or its id now belongs to another user's process
            os._exit(1)


class PoolSlot:
    """A stage's one pool in this process: made on first use, kept across batches (with the
    models its workers loaded), and made again only when the settings it was made for change."""

    def __init__(self) -> None:
        self._pool: RecyclingPool | None = None
        self._key: tuple | None = None
        self._lock = threading.Lock()

    def running(self, key: tuple) -> bool:
        """Whether a pool made for `key` is up."""
        return self._pool is not None and self._key == key

    def get(self, key: tuple, make: Callable[[], RecyclingPool]) -> RecyclingPool:
        """The pool made for `key`, calling `make` (after stopping any other) when there is none."""
        with self._lock:
            if not self.running(key):
                self.shutdown()
                self._pool, self._key = make(), key
            return self._pool

    def shutdown(self) -> None:
        """Stop the pool's workers, if any."""
        if self._pool is not None:
            self._pool.shutdown()
        self._pool, self._key = None, None


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc's, in the running process
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return None


def return_free_memory() -> None:
    """Hand the free pages of the C heap and of Arrow's pool back to the system.

    A slice's pages, texts and query results are freed once it is committed, but glibc keeps
    freed pages in the arena of the thread that freed them, and the flow's tasks move between
    threads: over a 20,000-page run the free memory glibc held grew about 35 MiB a slice, most of
    it no longer resident (glibc's `malloc_trim`; nothing off glibc). Arrow's allocator kept
    34-45 MiB of a slice's writes resident after it, which it gives back when asked (README).
    """
    if trim := _malloc_trim():
        trim(0)
    import pyarrow  # the warehouse's writer: already imported by then

    pyarrow.default_memory_pool().release_unused()
