"""The Dagster code location: `dagster dev -m crm_pipeline.definitions`."""

from dagster import Definitions

from crm_pipeline.defs.resources import default_resources
from crm_pipeline.defs.servicetitan.export_assets import export_assets
from crm_pipeline.defs.servicetitan.list_assets import list_assets
from crm_pipeline.defs.sql_models import sql_model_assets, sql_model_checks

defs = Definitions(
    assets=[*export_assets, *list_assets, *sql_model_assets], asset_checks=[*sql_model_checks], resources=default_resources()
)
