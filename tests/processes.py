"""Processes the tests start on 127.0.0.1: a free port for them, and stopping them by their id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process we started, and its children, by its own process (group) id."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def running_prefect_server(home: Path, timeout: float = 90) -> Iterator[tuple[str, dict]]:
    """`wirehouse server` on a free port with its own PREFECT_HOME, stopped on exit.

    Yields:
        Its API URL, and the environment that reaches it (for subprocesses).
    """
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wirehouse.cli", "server", "--address", address],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        api = f"http://{address}/api"
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"wirehouse server exited: {log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                raise TimeoutError(f"wirehouse server did not answer within {timeout:.0f} s")
            yield api, {**env, "PREFECT_API_URL": api}
        finally:
            stop_process(proc)
