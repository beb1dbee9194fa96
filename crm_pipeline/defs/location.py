"""Everything the code location defines, built from the environment it loads in (crm_pipeline.definitions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

from dagster import AssetKey, AssetsDefinition, AssetSelection, Definitions, in_process_executor

from crm_pipeline.catalog import ENDPOINTS, Endpoint, endpoint, feeds_and_lists
from crm_pipeline.defs.lake_maintenance import lake_maintenance_definitions
from crm_pipeline.defs.resources import default_resources
from crm_pipeline.defs.servicetitan.automation import automation_definitions
from crm_pipeline.defs.servicetitan.automation_settings import AutomationSettings
from crm_pipeline.defs.servicetitan.export_assets import EXPORT_GROUP, build_export_assets
from crm_pipeline.defs.servicetitan.freshness import freshness_policy
from crm_pipeline.defs.servicetitan.list_assets import LIST_GROUP, build_list_assets
from crm_pipeline.defs.servicetitan.walk_settings import WalkSettings
from crm_pipeline.defs.sql_models import build_sql_model_assets, build_sql_model_checks, models_without
from crm_pipeline.settings import tenant_ids
from crm_pipeline.sql_models import PROJECT_DIR, load_project


def build_definitions(
    env: Mapping[str, str], *, endpoints: Sequence[Endpoint] = ENDPOINTS, sql_models: Sequence[Path] = ()
) -> Definitions:
    """The raw assets of `endpoints` (default: all; partitioned by SERVICETITAN_TENANTS), the SQL models of
    `dbt_like_sql/` and of the folders `sql_models` (those whose raw tables `endpoints` loads), the
    automation (CRM_AUTOMATION, the crons), the resources and, for a DuckLake, its maintenance."""
    automation = AutomationSettings.from_env(env)
    tenants = tenant_ids(env)
    loaded = {AssetKey(ep.asset_key_path) for ep in endpoints}
    missing = {AssetKey(ep.asset_key_path) for ep in ENDPOINTS} - loaded
    models = models_without(load_project(PROJECT_DIR, *sql_models), missing)
    core = Definitions(
        assets=[*raw_assets(env, endpoints=endpoints, tenants=tenants), *build_sql_model_assets(models)],
        asset_checks=build_sql_model_checks(models),
        resources=default_resources(env),
        # One process per run: its endpoints load side by side on threads inside the raw multi-assets,
        # sharing one client per tenant (one token, one rate limit) and one handle on the DuckDB file.
        executor=in_process_executor,
    )
    merged = Definitions.merge(
        core,
        automation_definitions(automation, tenants, endpoints, sql_models=bool(models)),
        lake_maintenance_definitions(env),
    )
    return with_freshness(merged, automation)


def raw_assets(
    env: Mapping[str, str], *, endpoints: Sequence[Endpoint], tenants: Sequence[str]
) -> list[AssetsDefinition]:
    """The export and list multi-assets of `endpoints`; none for a kind none of them is."""
    feeds, lists = feeds_and_lists(endpoints)
    assets = [build_export_assets(tenants=tenants, feeds=feeds)] if feeds else []
    if lists:
        walk = partial(WalkSettings.from_env, env)  # read as each run starts
        assets.append(build_list_assets(tenants=tenants, walk=walk, endpoints=lists))
    return assets


def with_freshness(definitions: Definitions, automation: AutomationSettings) -> Definitions:
    """Every raw asset of `definitions` fresh by the windows of `automation`: one policy, applied here."""
    return definitions.map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(
            freshness_policy=freshness_policy(endpoint(".".join(spec.key.path)), automation)
        ),
        selection=AssetSelection.groups(EXPORT_GROUP, LIST_GROUP),
    )
