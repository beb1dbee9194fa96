"""Shared fixtures: a sandbox API over loopback HTTP, settings pointing at it, a real DuckDB file."""

from __future__ import annotations

import duckdb
import pytest

from crm_pipeline_tests.sandbox import Sandbox
from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.settings import Settings

SMALL = {"customers": 120}


@pytest.fixture
def sandbox():
    with Sandbox(seed=11, sizes=SMALL, page_size=40) as sb:
        yield sb


@pytest.fixture
def settings(sandbox, tmp_path) -> Settings:
    env = {**sandbox.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")}
    return Settings.from_env(env)


@pytest.fixture
def conn(settings):
    connection = duckdb.connect(settings.duckdb_path)
    yield connection
    connection.close()


def make_client(settings: Settings, **overrides) -> ServiceTitanClient:
    """A client with quick backoff, so fault tests stay fast; everything else as in production."""
    options = {"backoff_base": 0.01, "backoff_cap": 0.2, "max_retry_seconds": 60.0, "read_timeout": 5.0}
    return ServiceTitanClient(settings, **{**options, **overrides})


@pytest.fixture
def client(settings):
    with make_client(settings) as c:
        yield c


TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    """Each test is marked with its tier, the folder it sits in (`pytest -m unit` runs the fast tier)."""
    for item in items:
        tier = item.path.parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
