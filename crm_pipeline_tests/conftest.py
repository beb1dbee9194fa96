"""Shared fixtures: a sandbox API over loopback HTTP, settings pointing at it, a real DuckDB file."""

from __future__ import annotations

import os

import dagster as dg
import duckdb
import pytest

from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.settings import Settings
from crm_pipeline_tests.sandbox import Sandbox

# The lake fixture (a DuckLake on the PostgreSQL of CRM_TEST_POSTGRES) lives with its helpers.
pytest_plugins = ("crm_pipeline_tests.lake_helpers", "crm_pipeline_tests.object_store")

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


@pytest.fixture
def env(sandbox, settings, monkeypatch) -> dict:
    """The sandbox's SERVICETITAN_* settings and the test's DuckDB file, exported like a user would."""
    for name, value in {**sandbox.env(), "CRM_DUCKDB_PATH": settings.duckdb_path}.items():
        monkeypatch.setenv(name, value)
    return {**os.environ}


@pytest.fixture
def instance():
    """A throwaway Dagster instance (run and event storage in a temp folder)."""
    with dg.instance_for_test() as inst:
        yield inst


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


@pytest.fixture(scope="module")
def page_db(tmp_path_factory):
    """A DuckDB file with the raw tables of the generated pages' endpoints, shared by a module's tests
    (each test writes under tenants of its own)."""
    from crm_pipeline.storage import ensure_raw_table
    from crm_pipeline_tests.strategies import ENDPOINTS

    conn = duckdb.connect(str(tmp_path_factory.mktemp("pages") / "crm.duckdb"))
    for ep in ENDPOINTS:
        ensure_raw_table(conn, ep)
    yield conn
    conn.close()
