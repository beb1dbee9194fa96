"""One asset per `dbt_like_sql/{staging,marts}/*.sql` model, and one check op per model for its checks.

Asset key `[folder, file name]`, group = folder; deps come from the file's `ref()` and `source()`.
The models are read when the definitions load (`crm_pipeline.definitions`), not when this module is imported.
"""
# No `from __future__ import annotations` here: Dagster reads the asset functions' annotations at runtime.

from collections.abc import Collection
from dataclasses import replace

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
    multi_asset_check,
)

from crm_pipeline.defs.conditions import rebuild_when_sources_change
from crm_pipeline.defs.resources import DUCKDB_POOL, CrmDuckDB
from crm_pipeline.sql_models import Model, build_model, model_checks, run_check
from crm_pipeline.sql_models.loader import SqlFile
from crm_pipeline.storage.history import written_by


def model_key(model: Model) -> AssetKey:
    """`["staging", "stg_customers"]`: the folder, then the file name."""
    return AssetKey([model.schema, model.name])


def build_model_asset(model: Model, models: dict[str, Model]) -> AssetsDefinition:
    """The asset that creates or replaces the model's view or table."""
    deps = [AssetKey(list(written_by(*source))) for source in model.sources] + [
        model_key(models[r]) for r in model.refs
    ]

    @asset(
        key=model_key(model),
        group_name=model.schema,
        kinds={"sql", "duckdb"},
        pool=DUCKDB_POOL,
        automation_condition=rebuild_when_sources_change(),
        deps=deps,
        description=f"{model.description}\n\nA DuckDB {model.materialized} `{model.relation}`, "
        f"built from `{model.where}`.",
        metadata={
            "dagster/table_name": model.relation,
            "materialized": model.materialized,
            "path": MetadataValue.path(model.where),
            "sql": MetadataValue.md(f"```sql\n{model.sql}\n```"),
        },
    )
    def _model(context: AssetExecutionContext, duckdb: CrmDuckDB) -> MaterializeResult:
        with duckdb.get_connection() as conn:
            rows = build_model(conn, model, models)
            columns = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [model.schema, model.name],
            ).fetchall()
        context.log.info(f"{model.relation}: {rows} rows")
        schema = TableSchema(
            columns=[TableColumn(name, kind, model.column_docs.get(name, "")) for name, kind in columns]
        )
        return MaterializeResult(metadata={"dagster/row_count": rows, "dagster/column_schema": schema})

    return _model


def _markdown(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += [
        "| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in row.values()) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def build_model_checks(model: Model, models: dict[str, Model]) -> AssetChecksDefinition | None:
    """One op running the model's unique / not_null declarations and data tests, each its own check."""
    checks = {check.name: check for check in model_checks(model, models)}
    if not checks:
        return None
    key = model_key(model)
    specs = [AssetCheckSpec(name, asset=key, description=c.description) for name, c in checks.items()]

    @multi_asset_check(
        specs=specs, name=f"{model.schema}__{model.name}__checks", can_subset=True, pool=DUCKDB_POOL
    )
    def _checks(context: AssetCheckExecutionContext, duckdb: CrmDuckDB):
        with duckdb.get_connection() as conn:
            for check_key in context.selected_asset_check_keys:
                outcome = run_check(conn, checks[check_key.name])
                yield AssetCheckResult(
                    asset_key=key,
                    check_name=check_key.name,
                    passed=outcome.passed,
                    severity=AssetCheckSeverity.WARN
                    if outcome.check.severity == "warn"
                    else AssetCheckSeverity.ERROR,
                    metadata={
                        "failing_rows": outcome.failing_rows,
                        "sample": MetadataValue.md(_markdown(outcome.sample)),
                        "query": MetadataValue.md(f"```sql\n{outcome.check.sql}\n```"),
                    },
                )

    return _checks


def build_sql_model_assets(models: dict[str, Model]) -> list[AssetsDefinition]:
    """One asset per model of `models` (`crm_pipeline.sql_models.load_project()`)."""
    return [build_model_asset(model, models) for model in models.values()]


def build_sql_model_checks(models: dict[str, Model]) -> list[AssetChecksDefinition]:
    """The check op of each model of `models` that declares checks."""
    return [c for c in (build_model_checks(model, models) for model in models.values()) if c is not None]


def models_without(models: dict[str, Model], missing: Collection[AssetKey]) -> dict[str, Model]:
    """`models` less those reading an asset of `missing` (a raw table the code location does not load),
    directly or through a model left out; a kept model's data tests that read one are left out too.
    Otherwise such a model would be defined, and fail on every run for want of its table."""

    def reads_missing(item: SqlFile, kept: dict[str, Model]) -> bool:
        sources = (AssetKey(list(written_by(*source))) for source in item.sources)
        return any(key in missing for key in sources) or any(ref not in kept for ref in item.refs)

    kept: dict[str, Model] = {}
    for name, model in models.items():  # dependency order: the models a model refs are decided before it
        if not reads_missing(model, kept):
            kept[name] = model
    return {
        name: replace(model, tests=[test for test in model.tests if not reads_missing(test, kept)])
        for name, model in kept.items()
    }
