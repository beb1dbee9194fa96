"""The Dagster code location: `dagster dev -m crm_pipeline.definitions`."""

from dagster import Definitions

from crm_pipeline.defs.resources import default_resources
from crm_pipeline.defs.servicetitan.export_assets import export_assets

defs = Definitions(assets=[*export_assets], resources=default_resources())
