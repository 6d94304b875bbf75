"""The process environment, read and set in one place, before Prefect is imported."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

DEFAULT_SERVER = "127.0.0.1:4200"

# Offline, Prefect's telemetry only logs DNS errors (and once locked its database).
_QUIET = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
# Prefect's temporary server gives up after 20 s by default; a loaded machine takes longer.
_PATIENT = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}


def prefect_home() -> Path:
    """The project's own Prefect home: $PREFECT_HOME, else ./.prefect."""
    return Path(os.environ.get("PREFECT_HOME", ".prefect")).resolve()


def configure_environment() -> None:
    """Set the variables Prefect reads, unless the user set them already."""
    for name, value in {**_QUIET, **_PATIENT}.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("PREFECT_HOME", str(prefect_home()))


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
