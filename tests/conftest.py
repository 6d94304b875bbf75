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
