"""Dagster resources: the ServiceTitan client and the DuckDB file, both configured from the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.settings import DEFAULT_DUCKDB_PATH, Settings


class ServiceTitanResource(ConfigurableResource):
    """Opens a ServiceTitan client; credentials and URLs come from the SERVICETITAN_* variables at run time."""

    rate_limit: float = 60.0

    def settings(self) -> Settings:
        return Settings.from_env()

    @contextmanager
    def client(self) -> Iterator[ServiceTitanClient]:
        with ServiceTitanClient(self.settings(), rate_limit=self.rate_limit) as client:
            yield client


class CrmDuckDB(DuckDBResource):
    """The DuckDB file the pipeline writes (CRM_DUCKDB_PATH); its folder is created on first use."""

    @contextmanager
    def get_connection(self):
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as conn:
            yield conn


def default_resources() -> dict:
    return {
        "servicetitan": ServiceTitanResource(),
        "duckdb": CrmDuckDB(database=os.environ.get("CRM_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH),
    }
