"""Several ServiceTitan tenants as Dagster partitions: one partition per id of SERVICETITAN_TENANTS.

With SERVICETITAN_TENANTS unset (one tenant, SERVICETITAN_TENANT_ID) the raw assets are not partitioned.
Each partition has its own cursors and watermarks (every state row and every raw row carries tenant_id).
"""

from __future__ import annotations

import os

from dagster import StaticPartitionsDefinition

from crm_pipeline.settings import tenant_ids

TENANTS = tenant_ids(os.environ)
tenant_partitions = StaticPartitionsDefinition(TENANTS) if TENANTS else None
