"""The recycling process pool: workers replaced after their jobs, without Python 3.11's deadlock."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from wirehouse.tasks.pools import PoolSlot, RecyclingPool, _malloc_trim, return_free_memory


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@pytest.mark.timeout(60)
def test_workers_are_replaced_after_their_jobs_with_a_backlog_queued():
    # One worker, two jobs each, ten jobs queued at once: the case where
    # ProcessPoolExecutor(max_tasks_per_child=2) hangs on Python 3.11 (gh-115634).
    pool = RecyclingPool(1, 2)
    try:
        results = pool.map(_square_and_pid, range(10))
    finally:
        pool.shutdown()
    assert [square for square, _ in results] == [x * x for x in range(10)]
    assert len({pid for _, pid in results}) == 5 and pool.generations == 5


@pytest.mark.timeout(60)
def test_threads_share_one_pool():
    pool = RecyclingPool(2, 3)
    try:
        with ThreadPoolExecutor(4) as threads:
            batches = list(threads.map(lambda start: pool.map(_square_and_pid, range(start, start + 5)), range(0, 40, 5)))
    finally:
        pool.shutdown()
    assert [square for batch in batches for square, _ in batch] == [x * x for x in range(40)]
    assert pool.generations >= 40 // 6


@pytest.mark.timeout(60)
def test_zero_jobs_per_worker_keeps_the_workers():
    pool = RecyclingPool(1, 0)
    try:
        results = pool.map(_square_and_pid, range(6))
    finally:
        pool.shutdown()
    assert len({pid for _, pid in results}) == 1 and pool.generations == 1


@pytest.mark.timeout(60)
def test_a_slot_keeps_its_pool_until_the_settings_change():
    slot = PoolSlot()
    try:
        first = slot.get(("a",), lambda: RecyclingPool(1, 0))
        assert slot.get(("a",), lambda: RecyclingPool(1, 0)) is first and slot.running(("a",))
        second = slot.get(("b",), lambda: RecyclingPool(1, 0))
        assert second is not first and not slot.running(("a",))
        assert second.map(_square_and_pid, [3])[0][0] == 9
    finally:
        slot.shutdown()
    assert not slot.running(("b",))


_ORPHAN_SCRIPT = """
import os, sys, time
from wirehouse.tasks.pools import RecyclingPool

def _linger(seconds):
    time.sleep(seconds)
    return os.getpid()

if __name__ == "__main__":
    pool = RecyclingPool(2, 0)
    futures = [pool.submit(os.getpid) for _ in range(4)]
    print(" ".join(str(f.result()) for f in futures), flush=True)
    pool.submit(_linger, 120)
    time.sleep(120)
"""


@pytest.mark.timeout(90)
def test_workers_exit_when_the_process_that_started_them_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "owner.py"
    script.write_text(_ORPHAN_SCRIPT)
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    workers = {int(pid) for pid in owner.stdout.readline().split()}
    assert workers and owner.pid not in workers
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.5)
    assert not any(_alive(pid) for pid in workers), "pool workers outlived their owner"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm") or _malloc_trim() is None, reason="needs Linux and glibc")
def test_free_memory_held_between_live_blocks_goes_back_to_the_system():
    kept = []

    def fragment() -> None:  # in a thread of its own, as the flow's tasks are: its own glibc arena
        blocks = [bytes(2048) for _ in range(60_000)]  # about 120 MiB
        kept.extend(blocks[::16])  # one block in 16 stays: the pages between them cannot shrink the heap

    with ThreadPoolExecutor(1) as pool:
        pool.submit(fragment).result()
    before = _resident_bytes()
    return_free_memory()
    assert before - _resident_bytes() > 50 * 2**20
