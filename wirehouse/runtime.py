"""The process environment, read and set in one place, before Prefect is imported."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import httpx

DEFAULT_SERVER = "127.0.0.1:4200"

# Offline, Prefect's telemetry only logs DNS errors (and once locked its database).
_QUIET = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
# Prefect's temporary server gives up after 20 s by default; a loaded machine takes longer.
_PATIENT = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}
# glibc's malloc in a long run with many threads (Prefect's, the flow's task threads): two arenas
# instead of up to eight a core, and blocks of 128 KiB and more mapped and unmapped on their own
# (glibc otherwise raises that threshold as large blocks are freed, and its heaps fragment). A
# 20,000-page run held 121 MiB free in glibc's heaps at slice 9 instead of 311-352, and its RSS grew
# 9 MiB from slices 2-5 to 6-9 instead of 22 (README, Memory). Read by glibc when a process
# starts: the workers and flow-run processes started from here inherit them.
_ALLOCATOR = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}
# ... and the same two settings for this process, already started, through mallopt().
_MALLOPT = {"MALLOC_ARENA_MAX": -8, "MALLOC_MMAP_THRESHOLD_": -3}  # M_ARENA_MAX, M_MMAP_THRESHOLD


def prefect_home() -> Path:
    """The project's own Prefect home: $PREFECT_HOME, else ./.prefect."""
    return Path(os.environ.get("PREFECT_HOME", ".prefect")).resolve()


def configure_environment() -> None:
    """Set the variables Prefect and glibc read, unless the user set them already; tune this process's malloc.

    Call it before Prefect is imported: the threads started after it share the two arenas.
    """
    for name, value in {**_QUIET, **_PATIENT, **_ALLOCATOR}.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("PREFECT_HOME", str(prefect_home()))
    tune_allocator()


def tune_allocator() -> None:
    """Apply the MALLOC_* variables to this running process (glibc's mallopt; nothing off glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for name, option in _MALLOPT.items():
        value = os.environ.get(name, "")
        if value.isdigit():
            mallopt(option, int(value))


def server_api_url(address: str = DEFAULT_SERVER) -> str:
    """The API URL of a Prefect server at host:port."""
    return f"http://{address}/api"


def use_running_server(address: str = DEFAULT_SERVER) -> str | None:
    """Point Prefect at a `wirehouse server` already running here, so runs show in its UI.

    Returns:
        The API URL used, or None when Prefect is left to its own (ephemeral) mode.
    """
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    url = server_api_url(address)
    try:
        healthy = httpx.get(f"{url}/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        healthy = False
    if healthy:
        os.environ["PREFECT_API_URL"] = url
        return url
    return None
