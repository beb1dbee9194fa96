"""The GET collection endpoints, end to end against the sandbox, compared field by field."""

from __future__ import annotations

import duckdb
import pytest

from crm_pipeline.catalog import LIST_ENDPOINTS, endpoint
from crm_pipeline.ingest import sync_list
from crm_pipeline.settings import Settings
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.conftest import SMALL, make_client
from crm_pipeline_tests.sandbox import Sandbox

TOP = [ep for ep in LIST_ENDPOINTS if ep.parent is None]
CHILDREN = [ep for ep in LIST_ENDPOINTS if ep.parent is not None]


def load_all(client, conn, tenant_id, **options) -> dict:
    """Every list endpoint in catalog order (parents before their children)."""
    return {ep.path: sync_list(client, conn, ep, tenant_id=tenant_id, **options) for ep in LIST_ENDPOINTS}


def api_requests(sandbox) -> list:
    return [e for e in sandbox.request_log if "/crm/v2/" in e.path]


@pytest.fixture
def client(settings):
    with make_client(settings, rate_limit=None) as c:
        yield c


@pytest.fixture
def loaded(sandbox, settings, client, conn):
    load_all(client, conn, settings.tenant_id)
    return conn


@pytest.fixture(scope="module")
def loaded_once(tmp_path_factory):
    """One sandbox loaded into one DuckDB file, shared by the read-only tests of this module."""
    with Sandbox(seed=5, sizes=SMALL, page_size=40) as sandbox:
        settings = Settings.from_env(
            {**sandbox.env(), "CRM_DUCKDB_PATH": str(tmp_path_factory.mktemp("db") / "c.db")}
        )
        with make_client(settings, rate_limit=None) as client, duckdb.connect(settings.duckdb_path) as conn:
            load_all(client, conn, settings.tenant_id, page_size=50)
            yield sandbox, settings, conn


@pytest.mark.parametrize("ep", LIST_ENDPOINTS, ids=lambda ep: ep.path)
def test_each_endpoint_loads_exactly(loaded_once, ep):
    sandbox, settings, conn = loaded_once
    rows = served(sandbox, ep)
    assert rows, f"the sandbox serves nothing for {ep.path}"
    assert differences(conn, ep, settings.tenant_id, rows) == []


@pytest.mark.parametrize("path", ["customers", "locations"])
def test_inactive_records_are_included(loaded_once, path):
    sandbox, _, conn = loaded_once
    inactive = [r for r in sandbox.records(path) if r["active"] is False]
    assert inactive, "the sandbox should have inactive records"
    stored = conn.execute(f"SELECT count(*) FROM raw_list.{path} WHERE NOT active").fetchone()[0]
    assert stored == len(inactive)
    assert all(e.query.get("active") == "Any" for e in api_requests(sandbox) if e.path.endswith(f"/{path}"))


def test_second_run_makes_a_handful_of_requests_and_tables_match(sandbox, settings, client, loaded):
    sandbox.change("customers", n=4)
    sandbox.add("customers/{id}/notes", n=2)
    sandbox.change("contacts", n=2)
    sandbox.clear_log()
    results = load_all(client, loaded, settings.tenant_id)
    top_requests = sum(results[ep.path].requests for ep in TOP)
    child_requests = sum(results[ep.path].requests for ep in CHILDREN)
    assert top_requests == len(TOP)  # one page each: only what changed since the watermark
    assert child_requests < 60, "children are fetched for changed parents only"
    paged = [e for e in api_requests(sandbox) if e.path.endswith("/customers") or e.path.endswith("/leads")]
    assert paged and all("modifiedOnOrAfter" in e.query and e.query["pageSize"] == "5000" for e in paged)
    for ep in LIST_ENDPOINTS:
        assert differences(loaded, ep, settings.tenant_id, served(sandbox, ep)) == [], ep.path


def test_a_full_walk_marks_deleted_rows_without_removing_them(sandbox, settings, client, loaded):
    customers = endpoint("raw_list.customers")
    gone = sandbox.delete("customers", n=3)
    sync_list(client, loaded, customers, tenant_id=settings.tenant_id)
    assert (
        loaded.execute("SELECT count(*) FROM raw_list.customers WHERE _deleted_at IS NOT NULL").fetchone()[0]
        == 0
    )
    result = sync_list(client, loaded, customers, tenant_id=settings.tenant_id, full=True)
    marked = loaded.execute("SELECT id FROM raw_list.customers WHERE _deleted_at IS NOT NULL").fetchall()
    assert result.deleted == 3 and sorted(r[0] for r in marked) == sorted(gone)
    live = loaded.execute("SELECT count(*) FROM raw_list.customers WHERE _deleted_at IS NULL").fetchone()[0]
    assert live == len(sandbox.records("customers"))


def test_children_are_fetched_for_changed_parents_only(sandbox, settings, client, loaded):
    notes = endpoint("raw_list.customers_notes")
    sandbox.change("customers/{id}/notes", n=1)
    sync_list(client, loaded, endpoint("raw_list.customers"), tenant_id=settings.tenant_id)
    sandbox.clear_log()
    result = sync_list(client, loaded, notes, tenant_id=settings.tenant_id)
    parents = {e.path.split("/")[-2] for e in api_requests(sandbox)}
    assert 1 <= len(parents) <= 5 and result.requests == len(api_requests(sandbox))
    assert differences(loaded, notes, settings.tenant_id, served(sandbox, notes)) == []


def test_children_of_missing_parents_ask_for_the_parent_asset(settings, client, conn):
    with pytest.raises(RuntimeError, match="materialize raw_list/customers first"):
        sync_list(client, conn, endpoint("raw_list.customers_notes"), tenant_id=settings.tenant_id)
