"""`ServiceTitanComponent`: the 25 raw assets, their checks, freshness, sensors, schedules, jobs and the SQL
models, configured from a `defs.yaml`; every attribute left out falls back to its environment variable
exactly as the code location reads it (README, Settings)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from crm_pipeline.settings import SettingsError

# Each attribute stands for the environment variable the code location reads when it loads.
_SETTING_VARS = {
    "duckdb_path": "CRM_DUCKDB_PATH",
    "ducklake_data_path": "CRM_DUCKLAKE_DATA_PATH",
    "list_schedule": "CRM_LIST_SCHEDULE",
    "full_walk_schedule": "CRM_FULL_WALK_SCHEDULE",
    "schedule_timezone": "CRM_SCHEDULE_TIMEZONE",
    "ducklake_maintenance_schedule": "CRM_DUCKLAKE_MAINTENANCE_SCHEDULE",
}
# Numbers of the parent walks: 0 switches the budget or the rotation off, as in the environment.
_NUMBER_VARS = {
    "export_interval_seconds": "CRM_EXPORT_INTERVAL_SECONDS",
    "walk_budget_seconds": "CRM_WALK_BUDGET_SECONDS",
    "rotation_hours": "CRM_ROTATION_HOURS",
    "rotation_share": "CRM_ROTATION_SHARE",
}

# Written by `dg scaffold defs`: secrets stay in the environment, as templates, never as values.
SCAFFOLD_ATTRIBUTES = {
    "duckdb_path": "{{ env.CRM_DUCKDB_PATH }}",
    "automation": True,
    "export_interval_seconds": 300,
}


class ServiceTitanScaffolder(dg.Scaffolder):
    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, SCAFFOLD_ATTRIBUTES)


@dg.scaffold_with(ServiceTitanScaffolder)
class ServiceTitanComponent(dg.Component, dg.Model, dg.Resolvable):
    """ServiceTitan CRM v2 into DuckDB or a DuckLake. Credentials (SERVICETITAN_CLIENT_ID, _CLIENT_SECRET,
    _APP_KEY, _API_URL, _AUTH_URL) are read from the environment at run time, never from defs.yaml."""

    tenants: list[str] | None = None
    duckdb_path: str | None = None
    ducklake_data_path: str | None = None
    automation: bool | None = None
    history: bool | None = None
    export_interval_seconds: int | None = None
    list_schedule: str | None = None
    full_walk_schedule: str | None = None
    schedule_timezone: str | None = None
    ducklake_maintenance_schedule: str | None = None
    walk_budget_seconds: float | None = None
    rotation_hours: float | None = None
    rotation_share: float | None = None
    # Asset keys (`raw_export/customers`, `raw_list/customers_notes`) of the endpoints to load; None: all 25.
    endpoints: list[str] | None = None
    # A folder of the team's own models (staging/, marts/, tests/ as in dbt_like_sql/), relative to this
    # defs.yaml's folder, built beside ours: they may ref() our models and source() our raw tables.
    sql_models_path: str | None = None

    def settings_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` with this component's attributes in place of the variables they stand for."""
        merged = dict(env)
        for attribute, var in _SETTING_VARS.items():
            value = getattr(self, attribute)
            if value:
                merged[var] = value
        if self.tenants is not None:
            merged["SERVICETITAN_TENANTS"] = ",".join(self.tenants)
        for attribute, var in (("automation", "CRM_AUTOMATION"), ("history", "CRM_HISTORY")):
            switch = getattr(self, attribute)
            if switch is not None:
                merged[var] = "on" if switch else "off"
        for attribute, var in _NUMBER_VARS.items():
            number = getattr(self, attribute)
            if number is not None:
                merged[var] = f"{number:g}"
        return merged

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        # Imported here so that `dg list components` does not load pandera and the catalog.
        from crm_pipeline.defs.location import build_definitions
        from crm_pipeline.defs.servicetitan.selection import select_endpoints
        from crm_pipeline.storage.layout import warm_up as warm_up_storage
        from crm_pipeline.validation import warm_up

        warm_up()
        warm_up_storage()
        return build_definitions(
            self.settings_env(os.environ),
            endpoints=select_endpoints(self.endpoints),
            sql_models=self.sql_models_folders(context.path),
        )

    def sql_models_folders(self, component_folder: Path) -> list[Path]:
        """`sql_models_path` from this defs.yaml's folder (none when left out); refused unless a folder."""
        if self.sql_models_path is None:
            return []
        folder = component_folder / self.sql_models_path
        if not folder.is_dir():
            raise SettingsError(f"sql_models_path: {folder} is not a folder (of staging/ and marts/ models)")
        return [folder]
