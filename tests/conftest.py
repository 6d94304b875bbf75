"""Shared fixtures: settings, and one Prefect test harness for the whole session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from wirehouse.config.settings import load_settings  # noqa: E402


@pytest.fixture
def settings(tmp_path):
    """The default settings with the warehouse in a temporary folder."""
    base = load_settings()
    return base.model_copy(update={"warehouse": base.warehouse.model_copy(update={"path": tmp_path / "warehouse"})})


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for every flow test (its cold start takes 10-20 s here)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """`wirehouse server` as a process on a free 127.0.0.1 port with its own PREFECT_HOME, one per
    test module; yields its API URL and the environment that reaches it."""
    from processes import running_prefect_server

    with running_prefect_server(tmp_path_factory.mktemp("prefect-home")) as (api, env):
        yield api, env


@pytest.fixture(scope="module")
def server():
    """The misbehaving HTTP server of tests/badserver.py on 127.0.0.1, one per test module."""
    from badserver import BadServer

    server = BadServer().start()
    yield server
    server.stop()


@pytest.fixture
def fetch_settings():
    """Fetch settings for the bad server: small timeouts and caps; loopback targets allowed."""
    from badserver import MAX_BYTES

    return load_settings().fetch.model_copy(
        update={
            "connect_timeout": 0.5,
            "read_timeout": 0.3,
            "total_timeout": 1.0,
            "max_bytes": MAX_BYTES,
            "sitemap_max_bytes": MAX_BYTES,
            "retries": 1,
            "backoff": 0.05,
            "max_retry_after": 2.0,
            "per_host_delay": 0.0,
            "max_connections": 8,
            "allow_private": True,
        }
    )
