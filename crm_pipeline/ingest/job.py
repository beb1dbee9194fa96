"""One stream's run: what every part of a sync needs to fetch and commit."""

from __future__ import annotations

from dataclasses import dataclass

from crm_pipeline.catalog import Endpoint
from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.storage.stores import Store


@dataclass(frozen=True)
class StreamJob:
    """The client to fetch with, the store to commit to, the endpoint and tenant, the Dagster run (if any),
    and whether loads keep versions in `raw_history` (CRM_HISTORY, read at the edge; None: as before)."""

    client: ServiceTitanClient
    store: Store
    endpoint: Endpoint
    tenant_id: str
    run_id: str | None = None
    history: bool | None = None
