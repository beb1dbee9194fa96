"""Each raw asset's Dagster `FreshnessPolicy`, from the settings of the sensor and schedules that load it.

An export feed runs every CRM_EXPORT_INTERVAL_SECONDS once caught up; a list table on each tick of
CRM_LIST_SCHEDULE. A table WARNs once one run was missed (two intervals, for exports at least 10
minutes) and FAILs once three were (twice the warning window). Dagster's freshness daemon (part of
`dagster dev` and `dagster-daemon run`) evaluates the policies; the UI shows each asset's state.
"""

from __future__ import annotations

from dagster import FreshnessPolicy

from crm_pipeline.catalog import Endpoint
from crm_pipeline.defs.servicetitan.automation_settings import AutomationSettings


def freshness_policy(endpoint: Endpoint, settings: AutomationSettings) -> FreshnessPolicy:
    """The raw asset's policy: warn after its `*_freshness` window of `settings`, fail after twice that."""
    warn = settings.export_freshness if endpoint.kind == "export" else settings.list_freshness
    return FreshnessPolicy.time_window(fail_window=2 * warn, warn_window=warn)
