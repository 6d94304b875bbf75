"""The process environment: glibc's malloc limited to two arenas however many threads allocate."""

import subprocess
import sys
import textwrap

import pytest

ARENAS = textwrap.dedent(
    """
    import ctypes, os, sys, threading
    if sys.argv[1] == "tuned":
        from wirehouse.runtime import configure_environment
        configure_environment()
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    ready, go = threading.Barrier(9), threading.Event()

    def allocate():
        ready.wait()
        go.wait()
        libc.free(libc.malloc(1 << 10))  # a thread's first malloc takes an arena of its own, up to the limit
        ready.wait()

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    [t.start() for t in threads]
    ready.wait(); go.set(); ready.wait()
    [t.join() for t in threads]
    sys.stderr.flush()
    libc.malloc_stats()  # "Arena N:" a line, on stderr
    print(os.environ.get("MALLOC_ARENA_MAX"), os.environ.get("MALLOC_MMAP_THRESHOLD_"))
    """
)


def _arenas(mode: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, timeout=60, check=True)
    return proc.stderr.count("Arena "), proc.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_flow_process_and_its_children_share_two_malloc_arenas(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    untuned, _ = _arenas("default")
    tuned, inherited = _arenas("tuned")
    assert untuned >= 4  # eight threads, up to eight arenas a core
    assert tuned <= 2
    assert inherited == "2 131072"  # what worker and flow-run processes started from here read
