"""The component's `sql_models_path`: a team's own models beside ours, in one namespace with ours."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import pytest

from crm_pipeline.components import ServiceTitanComponent
from crm_pipeline.definitions import DAGSTER_NOTES
from crm_pipeline.settings import SettingsError
from crm_pipeline.sql_models import SqlModelError

# Reads our model and our raw table; its data test reads it and another of our models.
TEAM_FILES = {
    "marts/team_customers.sql": "-- description: The team's customers, on our staged ones.\n"
    "-- unique: tenant_id, customer_id\n"
    "select s.tenant_id, s.customer_id, r.name\nfrom {{ ref('stg_customers') }} as s\n"
    "join {{ source('raw_export', 'customers') }} as r\n"
    "    on r.tenant_id = s.tenant_id and r.id = s.customer_id\n",
    "tests/team_customers__all_staged.sql": "-- description: every staged customer is the team's\n"
    "select * from {{ ref('stg_customers') }} as s\n"
    "where not exists (select 1 from {{ ref('team_customers') }} as t where t.customer_id = s.customer_id)\n",
}
TEAM_MODEL = dg.AssetKey(["marts", "team_customers"])


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(sql)
    return folder


def component_defs(component_folder: Path, **attributes) -> dg.Definitions:
    context = dg.ComponentTree.for_test().load_context.for_path(component_folder)
    with warnings.catch_warnings():  # Dagster's notes on its preview APIs, silenced as dg silences them
        for note in DAGSTER_NOTES:
            warnings.simplefilter("ignore", note)
        return ServiceTitanComponent(**attributes).build_defs(context)


def test_a_team_model_is_an_asset_beside_ours_depending_on_ours(tmp_path):
    write_folder(tmp_path / "team_sql", TEAM_FILES)
    definitions = component_defs(tmp_path, sql_models_path="team_sql")  # from the defs.yaml's folder
    graph = definitions.resolve_asset_graph()
    assert dg.AssetKey(["staging", "stg_customers"]) in graph.get_all_asset_keys()
    node = graph.get(TEAM_MODEL)
    assert node.group_name == "marts"
    assert set(node.parent_keys) == {
        dg.AssetKey(["staging", "stg_customers"]),
        dg.AssetKey(["raw_export", "customers"]),
    }
    checks = {key.name for key in graph.asset_check_keys if key.asset_key == TEAM_MODEL}
    assert checks == {"unique_tenant_id_customer_id", "all_staged"}


def test_a_team_model_reading_a_table_not_loaded_is_left_out(tmp_path):
    write_folder(tmp_path / "team_sql", TEAM_FILES)
    definitions = component_defs(tmp_path, sql_models_path="team_sql", endpoints=["raw_export/leads"])
    assert TEAM_MODEL not in definitions.resolve_asset_graph().get_all_asset_keys()


def test_a_missing_folder_and_a_name_of_ours_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="sql_models_path: .*/nowhere is not a folder"):
        component_defs(tmp_path, sql_models_path="nowhere")
    write_folder(tmp_path / "team_sql", {"staging/stg_customers.sql": "-- description: ours again\nselect 1"})
    with pytest.raises(SqlModelError, match="is also dbt_like_sql/staging/stg_customers.sql"):
        component_defs(tmp_path, sql_models_path="team_sql")
