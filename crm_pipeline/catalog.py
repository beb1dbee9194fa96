"""The one declarative catalog of CRM v2 endpoints the pipeline copies.

An endpoint is its API path, its kind (`export` feed or `list` collection), the strategy that reads it
(one kind of stream: crm_pipeline.ingest.driver.STRATEGIES), its key, its fields (and so its pandera
schema) and the raw table it lands in. Its fields are the OpenAPI
description's, generated into `crm_pipeline/schemas/spec_fields.json`: adding an endpoint is adding
an entry here (README, "Adding an endpoint").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import pandera.pandas as pa

from crm_pipeline.schemas import build_schema
from crm_pipeline.schemas.declared import fields_of
from crm_pipeline.schemas.types import FieldType

Kind = Literal["export", "list"]
# How a stream is read (crm_pipeline.ingest): an export feed with its continuation token, a list with a
# modifiedOnOrAfter watermark, a small list walked whole in one transaction, or a parent fan-out.
StrategyName = Literal["export_feed", "watermark_list", "whole_list", "parent_fanout"]
_STRATEGY_KINDS = {
    "export_feed": "export",
    "watermark_list": "list",
    "whole_list": "list",
    "parent_fanout": "list",
}
# How a list endpoint answers: pages of `data`, a bare JSON array, or a bare value (one row per parent).
Shape = Literal["paged", "array", "value"]
_PATH_PARAM = re.compile(r"/?\{[^}]+\}")


def table_name(path: str, kind: Kind) -> str:
    """`export/customers/contacts` -> `customers_contacts`; `customers/{id}/notes` -> `customers_notes`."""
    bare = _PATH_PARAM.sub("", path)
    if kind == "export":
        bare = bare.removeprefix("export/")
    return re.sub(r"[/-]", "_", bare.strip("/"))


@dataclass(frozen=True, kw_only=True)
class Parent:
    """Where a parent-scoped endpoint's path parameters come from, and the columns its rows carry them in.

    `params` maps each path parameter to (column of the parent table, column added to every row).
    """

    table: str
    params: Mapping[str, tuple[str, str]]

    @property
    def asset_key_path(self) -> list[str]:
        return self.table.split(".")


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One GET endpoint of CRM v2 and the raw table it is copied to (built with keyword arguments)."""

    path: str
    kind: Kind
    strategy: StrategyName
    fields: Mapping[str, FieldType] = field(repr=False)
    description: str
    key: tuple[str, ...] = ("id",)
    query: Mapping[str, str] = field(default_factory=dict)  # sent on every request, e.g. active=Any
    shape: Shape = "paged"
    parent: Parent | None = None
    value_field: str | None = None  # shape "value": the column its bare answer is stored in

    def __post_init__(self) -> None:
        if _STRATEGY_KINDS[self.strategy] != self.kind:
            raise ValueError(f"{self.path}: a {self.kind} endpoint is not read as {self.strategy!r}")
        if (self.strategy == "parent_fanout") != (self.parent is not None):
            raise ValueError(f"{self.path}: a parent goes with strategy 'parent_fanout', and only with it")
        if (self.shape == "value") != (self.value_field is not None):
            raise ValueError(f"{self.path}: a value_field goes with shape 'value', and only with it")
        if self.value_field is not None and self.value_field not in self.fields:
            raise ValueError(f"{self.path}: value_field {self.value_field!r} is not a declared field")

    @property
    def incremental(self) -> bool:
        """Takes modifiedOnOrAfter: only what changed since the watermark is fetched."""
        return self.strategy == "watermark_list"

    @property
    def marks_deletions(self) -> bool:
        """Its raw table carries `_deleted_at`: a list's walks stamp the rows the API no longer returns
        (an export feed's rows are never deleted)."""
        return self.kind == "list"

    @property
    def fetched_by_change(self) -> bool:
        """Its records are fetched as they change (an export feed, a watermark list): the versions they
        replace can be kept as history."""
        return self.strategy in ("export_feed", "watermark_list")

    @property
    def history_name(self) -> str:
        """The name of its history in `raw_history` (a list's prefixed, as the two families share it)."""
        return self.table if self.kind == "export" else f"list_{self.table}"

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

    @cached_property
    def typed_schema(self) -> pa.DataFrameSchema:
        """`schema`'s checks without its coercion, for a frame whose columns have their dtypes already."""
        return build_schema(self.qualified_table, self.fields, self.key, coerce=False)


def _export(path: str, description: str) -> Endpoint:
    """An export feed: its fields as the spec declares them, resumed from its continueFrom cursor."""
    return Endpoint(
        path=path, kind="export", strategy="export_feed", fields=fields_of(path), description=description
    )


EXPORT_FEEDS: tuple[Endpoint, ...] = (
    _export("export/customers", "Customers (active, inactive and merged) from the customers export feed."),
    _export(
        "export/customers/contacts",
        "Customer contact points (phone, e-mail, fax) from the customer contacts export feed.",
    ),
    _export("export/locations", "Service locations of customers from the locations export feed."),
    _export("export/locations/contacts", "Location contact points from the location contacts export feed."),
    _export(
        "export/leads", "Leads with status, priority, campaign and follow-up from the leads export feed."
    ),
    _export(
        "export/bookings", "Bookings (from booking providers and the web) from the bookings export feed."
    ),
)

EVERYTHING = {"active": "Any"}  # /customers and /locations answer active records only without it


def _top(path: str, description: str, **options) -> Endpoint:
    """A top-level list endpoint, read from a watermark unless `strategy="whole_list"` (an endpoint without
    modifiedOnOrAfter); `options` are Endpoint's."""
    options.setdefault("strategy", "watermark_list")
    return Endpoint(path=path, kind="list", fields=fields_of(path), description=description, **options)


TOP_LEVEL_LISTS: tuple[Endpoint, ...] = (
    _top("booking-provider-tags", "Tags that booking providers put on bookings."),
    _top("bookings", "Bookings, as the bookings list endpoint serves them."),
    _top("contacts", "Contacts (people) of the new contacts model; GUID ids."),
    _top("contacts/contact-methods", "Phones, e-mails and other methods of each contact."),
    _top(
        "contacts/preferences",
        "The contact preference types of the tenant.",
        strategy="whole_list",
        shape="array",
    ),
    _top("customers", "Customers, active and inactive (active=Any).", query=EVERYTHING),
    _top("customers/contacts", "Contact points of all customers."),
    _top("customers/custom-fields", "Custom field types defined for customers."),
    _top("leads", "Leads, as the leads list endpoint serves them."),
    _top("locations", "Locations, active and inactive (active=Any).", query=EVERYTHING),
    _top("locations/contacts", "Contact points of all locations."),
    _top("locations/custom-fields", "Custom field types defined for locations."),
)


def _child(path: str, description: str, *, parent: str, params: dict, **options) -> Endpoint:
    """A list endpoint fetched once per row of the top-level endpoint at `parent` (its path): `params` maps
    each path parameter to (the parent's column, the column carrying it in every row, typed as the
    parent's). Walked by parents, not by a watermark; `options` are Endpoint's."""
    of = next(ep for ep in TOP_LEVEL_LISTS if ep.path == parent)
    carried = {column: of.fields[parent_column] for parent_column, column in params.values()}
    return Endpoint(
        path=path,
        kind="list",
        strategy="parent_fanout",
        fields={**carried, **fields_of(path)},
        description=description,
        parent=Parent(table=of.qualified_table, params=params),
        **options,
    )


LIST_ENDPOINTS: tuple[Endpoint, ...] = TOP_LEVEL_LISTS + (
    _child(
        "customers/{id}/notes", "Notes on customers.", parent="customers", params={"id": ("id", "customerId")}
    ),
    _child(
        "locations/{id}/notes", "Notes on locations.", parent="locations", params={"id": ("id", "locationId")}
    ),
    _child("leads/{id}/notes", "Notes on leads.", parent="leads", params={"id": ("id", "leadId")}),
    _child(
        "bookings/{id}/contacts",
        "Contact points given with each booking.",
        parent="bookings",
        params={"id": ("id", "bookingId")},
    ),
    _child(
        "contacts/{contactId}/relationships",
        "How contacts relate to customers, locations and other records.",
        parent="contacts",
        params={"contactId": ("id", "contactId")},
    ),
    _child(
        "locations/{id}/preferredtechnician",
        "The preferred technician of each location (null when none).",
        parent="locations",
        params={"id": ("id", "locationId")},
        key=("locationId",),
        shape="value",
        value_field="technicianId",  # the bare answer's column (declared in crm_pipeline.schemas.declared)
    ),
    _child(
        "contacts/{contactId}/contact-methods/{contactMethodId}/preferences",
        "Preferences (opt-ins) of each contact method.",
        parent="contacts/contact-methods",
        params={"contactId": ("contactId", "contactId"), "contactMethodId": ("id", "contactMethodId")},
        key=("contactId", "contactMethodId", "name"),
        shape="array",
    ),
)

ENDPOINTS: tuple[Endpoint, ...] = EXPORT_FEEDS + LIST_ENDPOINTS


def endpoint(path_or_table: str) -> Endpoint:
    """Look an endpoint up by API path (`export/customers`) or qualified table (`raw_export.customers`)."""
    for ep in ENDPOINTS:
        if path_or_table in (ep.path, ep.qualified_table):
            return ep
    raise KeyError(f"unknown endpoint {path_or_table!r}; known: {[ep.path for ep in ENDPOINTS]}")


def feeds_and_lists(endpoints: Sequence[Endpoint]) -> tuple[list[Endpoint], list[Endpoint]]:
    """`endpoints` split into export feeds and list endpoints (each kind has its multi-asset and job)."""
    return [ep for ep in endpoints if ep.kind == "export"], [ep for ep in endpoints if ep.kind == "list"]
