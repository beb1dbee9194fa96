"""Several ServiceTitan tenants as Dagster partitions: one partition per id of SERVICETITAN_TENANTS.

With SERVICETITAN_TENANTS unset (one tenant, SERVICETITAN_TENANT_ID) the raw assets are not partitioned.
Each partition has its own cursors and watermarks (every state row and every raw row carries tenant_id).
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import StaticPartitionsDefinition


def tenant_partitions(tenants: Sequence[str]) -> StaticPartitionsDefinition | None:
    """One partition per tenant id (`crm_pipeline.settings.tenant_ids`); None for a single tenant."""
    return StaticPartitionsDefinition(list(tenants)) if tenants else None
