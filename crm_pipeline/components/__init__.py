"""Dagster components (`dg list components`): ServiceTitan CRM v2 for any `dg` project."""

from crm_pipeline.components.servicetitan import ServiceTitanComponent

__all__ = ["ServiceTitanComponent"]
