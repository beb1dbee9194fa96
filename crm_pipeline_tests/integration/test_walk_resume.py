"""A parent fan-out killed with SIGKILL half-way resumes where it stopped: the next run fetches again at most
5% of the parents the killed run had requested, skips none, and leaves every table exact; the same for a full
walk, whose deletions are stamped exactly once. Real `dagster` CLI runs, the client at its 60/s."""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import endpoint
from crm_pipeline.ingest import sync_list
from crm_pipeline.settings import Settings
from crm_pipeline_tests.cli_runs import cli_env, kill_when, requested_parents, run, start
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.sandbox import Sandbox

CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")
PARENTS = 1200  # 20 s of walk at the client's 60 requests/s: a kill loses about a third of a second of it
RESUMED_AGAIN_AT_MOST = 0.05


def load(settings: Settings, *endpoints, full: bool = False) -> None:
    """Load endpoints in this process (no rate limit: only the CLI runs are measured)."""
    with make_client(settings, rate_limit=None) as client, duckdb.connect(settings.duckdb_path) as conn:
        for ep in endpoints:
            sync_list(client, conn, ep, tenant_id=settings.tenant_id, full=full)


def kill_half_way_then_resume(
    sb, env: dict, tmp_path, selection: str, *, full_walk: bool
) -> tuple[set, list]:
    """A run killed once half the parents were requested, then a run to the end; (parents requested by
    the killed run, by the next one)."""
    sb.clear_log()
    killed = start(selection, env, tmp_path / "killed.log", full_walk=full_walk)
    kill_when(killed, tmp_path / "killed.log", lambda: len(requested_parents(sb)) >= PARENTS // 2)
    before = set(requested_parents(sb))
    sb.clear_log()
    run(selection, env, tmp_path / "resumed.log", full_walk=full_walk)
    return before, requested_parents(sb)


def assert_resumed(before: set, after: list, parents: set) -> None:
    assert PARENTS // 2 <= len(before) < len(parents), "the run was not killed half-way"
    again = before & set(after)
    print(
        f"killed run: {len(before)} parents requested; the next run: {len(after)}, {len(again)} of them again"
    )
    assert len(again) <= RESUMED_AGAIN_AT_MOST * len(before), (
        f"the resumed run requested {len(again)} of the {len(before)} parents the killed run had requested"
    )
    assert before | set(after) == parents, "a parent was skipped"
    assert len(after) == len(set(after)), "a parent was requested twice in one run"


def keys(rows: list[dict], endpoint_) -> set:
    return {tuple(r[k] for k in endpoint_.key) for r in rows}


def stamps(conn, endpoint_) -> dict:
    """{key: _deleted_at} of the rows stamped deleted."""
    columns = ", ".join(f'"{k}"' for k in endpoint_.key)
    return {
        tuple(row[:-1]): row[-1]
        for row in conn.execute(
            f"SELECT {columns}, _deleted_at FROM {endpoint_.qualified_table} WHERE _deleted_at IS NOT NULL"
        ).fetchall()
    }


def test_a_fan_out_killed_half_way_resumes_where_it_stopped(tmp_path):
    with Sandbox(seed=41, sizes={"customers": PARENTS}) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        load(settings, CUSTOMERS)
        env = cli_env(sb, settings.duckdb_path, tmp_path / "dagster_home")
        before, after = kill_half_way_then_resume(
            sb, env, tmp_path, "raw_list/customers_notes", full_walk=None
        )
        assert_resumed(before, after, {p["id"] for p in sb.parents(NOTES.path)})
        with duckdb.connect(settings.duckdb_path) as conn:
            for ep in (CUSTOMERS, NOTES):
                assert differences(conn, ep, settings.tenant_id, served(sb, ep)) == [], ep.path


def test_a_full_walk_killed_half_way_resumes_and_stamps_each_deletion_once(tmp_path):
    with Sandbox(seed=42, sizes={"customers": PARENTS}) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        load(settings, CUSTOMERS, NOTES)
        all_customers, all_notes = keys(served(sb, CUSTOMERS), CUSTOMERS), keys(served(sb, NOTES), NOTES)
        sb.delete("customers", 5)  # their notes go with them (404: no children)
        sb.delete("customers/{id}/notes", 12)
        gone = {
            CUSTOMERS.path: all_customers - keys(served(sb, CUSTOMERS), CUSTOMERS),
            NOTES.path: all_notes - keys(served(sb, NOTES), NOTES),
        }
        assert len(gone[CUSTOMERS.path]) == 5 and len(gone[NOTES.path]) >= 12
        env = cli_env(sb, settings.duckdb_path, tmp_path / "dagster_home")
        before, after = kill_half_way_then_resume(
            sb, env, tmp_path, "raw_list/customers,raw_list/customers_notes", full_walk=True
        )
        # a whole walk visits every stored parent
        assert_resumed(before, after, {c for (c,) in all_customers})
        with duckdb.connect(settings.duckdb_path) as conn:
            stamped = {ep.path: stamps(conn, ep) for ep in (CUSTOMERS, NOTES)}
            for ep in (CUSTOMERS, NOTES):
                assert set(stamped[ep.path]) == gone[ep.path], ep.path
                assert differences(conn, ep, settings.tenant_id, served(sb, ep), live_only=True) == [], (
                    ep.path
                )
        load(settings, CUSTOMERS, NOTES, full=True)  # the next week's full walk: nothing new is gone
        with duckdb.connect(settings.duckdb_path) as conn:
            assert {ep.path: stamps(conn, ep) for ep in (CUSTOMERS, NOTES)} == stamped
