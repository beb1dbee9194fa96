"""The one declarative catalog of CRM v2 endpoints the pipeline copies.

An endpoint is its API path, its kind (`export` feed or paged `list` collection), its key, its
fields (and so its pandera schema) and the raw table it lands in. Adding an endpoint is adding
an entry here plus its fields in `crm_pipeline.schemas`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import pandera.pandas as pa

from crm_pipeline.schemas import build_schema, export
from crm_pipeline.schemas.types import FieldType

Kind = Literal["export", "list"]
_PATH_PARAM = re.compile(r"/?\{[^}]+\}")


def table_name(path: str, kind: Kind) -> str:
    """`export/customers/contacts` -> `customers_contacts`; `customers/{id}/notes` -> `customers_notes`."""
    bare = _PATH_PARAM.sub("", path)
    if kind == "export":
        bare = bare.removeprefix("export/")
    return re.sub(r"[/-]", "_", bare.strip("/"))


@dataclass(frozen=True)
class Endpoint:
    """One GET endpoint of CRM v2 and the raw table it is copied to."""

    path: str
    kind: Kind
    fields: Mapping[str, FieldType] = field(repr=False)
    description: str
    key: tuple[str, ...] = ("id",)

    @property
    def schema_name(self) -> str:
        """The DuckDB schema: `raw_export` or `raw_list`."""
        return f"raw_{self.kind}"

    @property
    def table(self) -> str:
        return table_name(self.path, self.kind)

    @property
    def qualified_table(self) -> str:
        return f"{self.schema_name}.{self.table}"

    @property
    def asset_key_path(self) -> list[str]:
        return [self.schema_name, self.table]

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        """The pandera schema every page is validated against before it is stored."""
        return build_schema(self.qualified_table, self.fields, self.key)


EXPORT_FEEDS: tuple[Endpoint, ...] = (
    Endpoint("export/customers", "export", export.CUSTOMERS,
             "Customers (active, inactive and merged) from the customers export feed."),
    Endpoint("export/customers/contacts", "export", export.CUSTOMER_CONTACTS,
             "Customer contact points (phone, e-mail, fax) from the customer contacts export feed."),
    Endpoint("export/locations", "export", export.LOCATIONS,
             "Service locations of customers from the locations export feed."),
    Endpoint("export/locations/contacts", "export", export.LOCATION_CONTACTS,
             "Location contact points from the location contacts export feed."),
    Endpoint("export/leads", "export", export.LEADS,
             "Leads with status, priority, campaign and follow-up from the leads export feed."),
    Endpoint("export/bookings", "export", export.BOOKINGS,
             "Bookings (from booking providers and the web) from the bookings export feed."),
)

ENDPOINTS: tuple[Endpoint, ...] = EXPORT_FEEDS


def endpoint(path_or_table: str) -> Endpoint:
    """Look an endpoint up by API path (`export/customers`) or qualified table (`raw_export.customers`)."""
    for ep in ENDPOINTS:
        if path_or_table in (ep.path, ep.qualified_table):
            return ep
    raise KeyError(f"unknown endpoint {path_or_table!r}; known: {[ep.path for ep in ENDPOINTS]}")
