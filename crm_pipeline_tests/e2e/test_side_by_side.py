"""Work that waits on the network runs side by side: a tenant's export feeds, with every answer 300 ms
late, load in at most 1.3x the time of the longest feed alone; two tenants' list runs (separate `dagster`
processes sharing the DuckDB file) take at most 1.3x one tenant's, and their rows never mix. Both measured the
same way in the same test: the duration of the step that loads the endpoints."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.settings import Settings
from crm_pipeline_tests.cli_runs import cli_env, finish, start
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.dagster_helpers import resources
from crm_pipeline_tests.sandbox import Sandbox

export_assets = [build_export_assets()]

AT_MOST = 1.3
EXPORT_STEP, LIST_STEP = "servicetitan_export_feeds", "servicetitan_list_endpoints"
CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")
LIST_SELECTION = "raw_list/customers,raw_list/customers_notes"


def step_span(instance: dg.DagsterInstance, run_id: str, step: str) -> tuple[float, float]:
    (stats,) = [s for s in instance.get_run_step_stats(run_id) if s.step_key == step]
    return stats.start_time, stats.end_time


def first_load_seconds(sb: Sandbox, tmp_path: Path, name: str, instance, feeds) -> float:
    """The export step's duration for `feeds`, loaded into a new DuckDB file (a first load)."""
    settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / f"{name}.duckdb")})
    result = dg.materialize(
        export_assets,
        selection=[dg.AssetKey(ep.asset_key_path) for ep in feeds],
        instance=instance,
        resources=resources(settings),
    )
    assert result.success
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        for ep in feeds:
            assert differences(conn, ep, settings.tenant_id, sb.records(ep.path)) == [], ep.path
    began, ended = step_span(instance, result.run_id, EXPORT_STEP)
    return ended - began


def test_the_export_feeds_load_together_in_about_the_time_of_the_longest(tmp_path, instance, monkeypatch):
    with Sandbox(seed=61, sizes={"customers": 200}, page_size=50) as sb:
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
        sb.faults.set_rates({"slow": 1.0}, delay=0.3)  # every answer 300 ms late
        longest = max(EXPORT_FEEDS, key=lambda ep: len(sb.records(ep.path)))
        alone = first_load_seconds(sb, tmp_path, "alone", instance, [longest])
        together = first_load_seconds(sb, tmp_path, "together", instance, EXPORT_FEEDS)
        pages = {ep.path: len(sb.records(ep.path)) // 50 + 1 for ep in EXPORT_FEEDS}
        print(
            f"{len(EXPORT_FEEDS)} feeds {together:.1f} s, {longest.path} alone {alone:.1f} s, pages {pages}"
        )
        assert sum(pages.values()) > 2 * AT_MOST * pages[longest.path], "too small: the sum would pass too"
        assert together <= AT_MOST * alone, (
            f"{len(EXPORT_FEEDS)} feeds {together:.1f} s, {longest.path} alone {alone:.1f} s"
        )


def list_run_steps(homes: list[Path]) -> list[tuple[float, float]]:
    spans = []
    for home in homes:
        with dg.DagsterInstance.from_config(str(home)) as inst:
            (run,) = inst.get_runs()
            spans.append(step_span(inst, run.run_id, LIST_STEP))
    return spans


def test_two_tenants_list_runs_side_by_side_take_about_the_time_of_one(tmp_path):
    with (
        Sandbox(seed=71, sizes={"customers": 600}, tenant_id="1001") as first,
        Sandbox(seed=72, sizes={"customers": 600}, tenant_id="1002") as second,
    ):
        alone_home = tmp_path / "alone_home"
        alone_log = tmp_path / "alone.log"
        finish(
            start(LIST_SELECTION, cli_env(first, str(tmp_path / "alone.duckdb"), alone_home), alone_log),
            alone_log,
        )
        ((began, ended),) = list_run_steps([alone_home])
        alone = ended - began
        database = str(tmp_path / "both.duckdb")
        homes = [tmp_path / f"home_{sb.tenant_id}" for sb in (first, second)]
        runs = [
            (
                start(LIST_SELECTION, cli_env(sb, database, home), tmp_path / f"{sb.tenant_id}.log"),
                tmp_path / f"{sb.tenant_id}.log",
            )
            for sb, home in zip((first, second), homes, strict=False)
        ]
        for proc, log in runs:
            finish(proc, log)
        spans = list_run_steps(homes)
        assert max(b for b, _ in spans) < min(e for _, e in spans), f"the runs did not overlap: {spans}"
        side_by_side = max(e - b for b, e in spans)
        print(f"side by side {[round(e - b, 1) for b, e in spans]} s, one tenant {alone:.1f} s")
        assert side_by_side <= AT_MOST * alone, f"side by side {side_by_side:.1f} s, one tenant {alone:.1f} s"
        with duckdb.connect(database, read_only=True) as conn:
            for ep in (CUSTOMERS, NOTES):
                query = f"SELECT DISTINCT tenant_id FROM {ep.qualified_table}"
                tenants = {t for (t,) in conn.execute(query).fetchall()}
                assert tenants == {"1001", "1002"}, ep.path
                for sb in (first, second):
                    assert differences(conn, ep, sb.tenant_id, served(sb, ep)) == [], (ep.path, sb.tenant_id)
