"""The SQL models of dbt_like_sql/: loading, ordering, errors, checks, and their figures on sandbox data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, materialize

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.defs.resources import CrmDuckDB
from crm_pipeline.defs.sql_models import build_sql_model_assets, build_sql_model_checks
from crm_pipeline.sql_models import (
    PROJECT_DIR,
    SqlModelError,
    build_all,
    build_model,
    load_project,
    model_checks,
    run_check,
)

TENANT_2 = "second-tenant"
sql_model_assets = build_sql_model_assets(load_project())
sql_model_checks = build_sql_model_checks(load_project())


def write_project(root: Path, files: dict[str, str]) -> Path:
    project = root / "dbt_like_sql"
    for name, sql in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(sql)
    return project


# --- loading, dependencies, order, errors (no data needed) ---------------------------------------


def test_dependencies_come_from_the_files():
    models = load_project()
    assert models["stg_customers"].sources == [("raw_export", "customers")]
    assert models["stg_locations"].refs == ["stg_customers"]
    assert {"stg_customers", "contact_points", "stg_tag_assignments"} <= set(
        models["customers_overview"].refs
    )
    assets = {key: a for a in sql_model_assets for key in a.keys}
    deps = assets[AssetKey(["staging", "stg_locations"])].asset_deps[AssetKey(["staging", "stg_locations"])]
    assert deps == {AssetKey(["raw_export", "locations"]), AssetKey(["staging", "stg_customers"])}


def test_every_sql_file_is_a_described_model_with_checks():
    models = load_project()
    files = sorted(p.stem for folder in ("staging", "marts") for p in (PROJECT_DIR / folder).glob("*.sql"))
    assert sorted(models) == files and len(files) >= 8
    assert all(len(m.description) > 40 and m.materialized in ("view", "table") for m in models.values())
    assert {key for a in sql_model_assets for key in a.keys} == {
        AssetKey([m.schema, m.name]) for m in models.values()
    }
    assert len(sql_model_checks) == len(models)  # every model declares unique or not_null


def test_models_come_after_the_models_they_ref():
    order = list(load_project())
    for position, name in enumerate(order):
        assert all(order.index(ref) < position for ref in load_project()[name].refs)


def test_a_ref_cycle_and_an_unknown_ref_are_refused(tmp_path):
    head = "-- description: x\n"
    cyclic = write_project(
        tmp_path / "a",
        {
            "staging/a.sql": head + "select * from {{ ref('b') }}",
            "staging/b.sql": head + "select * from {{ ref('a') }}",
        },
    )
    with pytest.raises(SqlModelError, match="cycle"):
        load_project(cyclic)
    unknown = write_project(tmp_path / "b", {"marts/m.sql": head + "select 1\nfrom {{ ref('nope') }}"})
    with pytest.raises(SqlModelError, match=r"^dbt_like_sql/marts/m\.sql:3: ref\('nope'\)"):
        load_project(unknown)


def test_a_failing_model_names_its_file_and_line(tmp_path):
    project = write_project(
        tmp_path,
        {
            "staging/stg_ok.sql": "-- description: fine\n-- materialized: table\n"
            "select 1 as id, 'a' as name\n",
            "marts/broken.sql": "-- description: broken\n"
            "select\n    id,\n    no_such_column\nfrom {{ ref('stg_ok') }}\n",
        },
    )
    models = load_project(project)
    conn = duckdb.connect()
    build_model(conn, models["stg_ok"], models)
    with pytest.raises(SqlModelError, match=r"^dbt_like_sql/marts/broken\.sql:4: Binder Error"):
        build_model(conn, models["broken"], models)


def test_checks_find_offending_rows(tmp_path):
    project = write_project(
        tmp_path,
        {
            "staging/stg_x.sql": "-- description: x\n-- unique: id\n-- not_null: id, name\n"
            "select * from (values (1, 'a'), (1, null), (2, 'b')) as t(id, name)\n",
            "tests/stg_x__no_b.sql": "-- description: no b\n-- severity: warn\n"
            "select * from {{ ref('stg_x') }} where name = 'b'\n",
        },
    )
    models = load_project(project)
    conn = duckdb.connect()
    build_all(conn, models)
    outcomes = {c.name: run_check(conn, c) for c in model_checks(models["stg_x"], models)}
    assert {name: o.failing_rows for name, o in outcomes.items()} == {
        "unique_id": 1,
        "not_null": 1,
        "no_b": 1,
    }
    assert outcomes["no_b"].check.severity == "warn" and outcomes["no_b"].sample == [{"id": 2, "name": "b"}]


# --- the real models on sandbox data ---------------------------------------------------------------


def merge_chain(sb) -> list[int]:
    """Merge customer a into b and b into c in the sandbox; return [a, b, c]."""
    a, b, c = [r for r in sb.records("export/customers") if r["active"] and r["mergedToId"] is None][10:13]
    for record, target in ((a, b), (b, c)):
        sb.put("export/customers", {**record, "active": False, "mergedToId": target["id"]})
    return [a["id"], b["id"], c["id"]]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Path, list[int]]:
    """A DuckDB file of the six raw tables, loaded by the pipeline from the sandbox: two tenants, the
    first synced twice (records changed and a merge chain a -> b -> c in between).

    Returns it and [a, b, c]."""
    from crm_pipeline.ingest import sync_export
    from crm_pipeline.servicetitan import ServiceTitanClient
    from crm_pipeline.settings import Settings
    from crm_pipeline_tests.sandbox import Sandbox

    path = tmp_path_factory.mktemp("sql_models") / "crm.duckdb"
    with duckdb.connect(str(path)) as conn:
        for seed, tenant in ((7, None), (8, TENANT_2)):
            with Sandbox(seed=seed, sizes={"customers": 300}, page_size=100) as sb:
                settings = Settings.from_env(sb.env())
                with ServiceTitanClient(settings) as client:
                    for ep in EXPORT_FEEDS:
                        sync_export(client, conn, ep, tenant_id=tenant or settings.tenant_id)
                    if tenant is None:
                        for ep in EXPORT_FEEDS:
                            sb.change(ep.path, n=30)
                        chain = merge_chain(sb)
                        for ep in EXPORT_FEEDS:
                            sync_export(client, conn, ep, tenant_id=settings.tenant_id)
    return path, chain


@pytest.fixture(scope="module")
def built(warehouse):
    """The warehouse with every model built through Dagster, checks included; yields a connection."""
    path, _ = warehouse
    result = materialize(
        [*sql_model_assets, *sql_model_checks], resources={"duckdb": CrmDuckDB(database=str(path))}
    )
    assert result.success
    with duckdb.connect(str(path)) as conn:
        yield conn, result


def one(conn, sql: str):
    return conn.execute(sql).fetchone()[0]


def test_every_model_is_a_relation_with_rows_and_every_check_ran(built):
    conn, result = built
    for model in load_project().values():
        assert one(conn, f"SELECT count(*) FROM {model.relation}") > 0, model.relation
    evaluations = result.get_asset_check_evaluations()
    expected = sum(len(model_checks(m, load_project())) for m in load_project().values())
    assert len(evaluations) == expected
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in evaluations
        if not e.passed and e.severity.value == "ERROR"
    ]
    assert failed == []


def test_customer_counts_match_the_raw_table(built):
    conn, _ = built
    assert one(conn, "SELECT count(DISTINCT tenant_id) FROM marts.customers_overview") == 2
    assert one(conn, "SELECT count(*) FROM staging.stg_customers") == one(
        conn, "SELECT count(*) FROM raw_export.customers"
    )
    survivors = one(
        conn, 'SELECT count(*) FROM raw_export.customers WHERE "mergedToId" IS NULL OR "mergedToId" = id'
    )
    merged = one(conn, "SELECT count(*) FROM raw_export.customers") - survivors
    assert merged > 0
    assert one(conn, "SELECT count(*) FROM marts.customers_overview") == survivors
    assert one(conn, "SELECT sum(merged_record_count) FROM marts.customers_overview") == merged
    # a merged customer's contacts and locations now belong to a customer that is in the overview
    assert (
        one(
            conn,
            """SELECT count(*) FROM marts.contact_points AS p
        WHERE NOT EXISTS (SELECT 1 FROM marts.customers_overview AS o
                          WHERE o.tenant_id = p.tenant_id AND o.customer_id = p.customer_id)""",
        )
        == 0
    )


def test_a_merge_chain_resolves_to_its_last_customer(built, warehouse):
    conn, _ = built
    a, b, c = warehouse[1]
    survivors = dict(
        conn.execute(
            "SELECT customer_id, surviving_customer_id FROM staging.stg_customers "
            f"WHERE customer_id IN ({a}, {b}, {c}) AND tenant_id <> ?",
            [TENANT_2],
        ).fetchall()
    )
    assert survivors == {a: c, b: c, c: c}
    overview = dict(
        conn.execute(
            "SELECT customer_id, merged_record_count FROM marts.customers_overview "
            f"WHERE customer_id IN ({a}, {b}, {c}) AND tenant_id <> ?",
            [TENANT_2],
        ).fetchall()
    )
    assert list(overview) == [c] and overview[c] >= 2


def test_lead_funnel_totals_add_up_to_the_raw_leads(built):
    conn, _ = built
    active = "FROM raw_export.leads WHERE active IS NOT false"
    totals = conn.execute(
        "SELECT sum(leads), sum(stage_open + stage_dismissed + stage_converted + stage_booked + stage_job), "
        "sum(booked), sum(status_dismissed) FROM marts.lead_funnel_monthly"
    ).fetchone()
    raw_leads = one(conn, f"SELECT count(*) {active}")
    assert totals[0] == totals[1] == raw_leads > 0
    assert totals[2] == one(conn, f'SELECT count(*) {active} AND "bookingId" IS NOT NULL')
    assert totals[3] == one(conn, f"SELECT count(*) {active} AND trim(status) IN ('Dismissed', '1')")
    assert one(conn, "SELECT count(*) FROM marts.lead_funnel") == one(
        conn, "SELECT count(*) FROM raw_export.leads"
    )


def test_bookings_and_contact_points_match_the_raw_tables(built):
    conn, _ = built
    assert one(conn, "SELECT sum(bookings) FROM marts.bookings_by_source_month") == one(
        conn, "SELECT count(*) FROM raw_export.bookings WHERE active IS NOT false"
    )
    assert one(conn, "SELECT count(*) FROM marts.bookings_by_source_month WHERE source <> trim(source)") == 0
    raw_points = one(
        conn,
        """SELECT count(*) FROM (SELECT value FROM raw_export.customers_contacts
        UNION ALL SELECT value FROM raw_export.locations_contacts) WHERE trim(value, E' \\t\\r\\n') <> ''""",
    )
    points = one(conn, "SELECT sum(contact_records) FROM marts.contact_points")
    assert points == raw_points  # every non-empty contact value is in exactly one contact point
    assert one(conn, "SELECT count(*) FROM marts.contact_points") < points  # and duplicates were folded
    assert one(conn, "SELECT count(*) FROM marts.contact_points WHERE do_not_text") > 0
