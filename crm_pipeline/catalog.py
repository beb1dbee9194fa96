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

from crm_pipeline.schemas import build_schema, export, lists
from crm_pipeline.schemas.types import INT, TEXT, FieldType

Kind = Literal["export", "list"]
# How a list endpoint answers: pages of `data`, a bare JSON array, or a bare value (one row per parent).
Shape = Literal["paged", "array", "value"]
_PATH_PARAM = re.compile(r"/?\{[^}]+\}")


def table_name(path: str, kind: Kind) -> str:
    """`export/customers/contacts` -> `customers_contacts`; `customers/{id}/notes` -> `customers_notes`."""
    bare = _PATH_PARAM.sub("", path)
    if kind == "export":
        bare = bare.removeprefix("export/")
    return re.sub(r"[/-]", "_", bare.strip("/"))


@dataclass(frozen=True)
class Parent:
    """Where a parent-scoped endpoint's path parameters come from, and the columns its rows carry them in.

    `params` maps each path parameter to (column of the parent table, column added to every row).
    """

    table: str
    params: Mapping[str, tuple[str, str]]

    @property
    def asset_key_path(self) -> list[str]:
        return self.table.split(".")


@dataclass(frozen=True)
class Endpoint:
    """One GET endpoint of CRM v2 and the raw table it is copied to."""

    path: str
    kind: Kind
    fields: Mapping[str, FieldType] = field(repr=False)
    description: str
    key: tuple[str, ...] = ("id",)
    query: Mapping[str, str] = field(default_factory=dict)  # sent on every request, e.g. active=Any
    incremental: bool = False  # takes modifiedOnOrAfter: fetch only what changed since the watermark
    shape: Shape = "paged"
    parent: Parent | None = None
    value_field: str | None = None  # shape "value": the column its bare answer is stored in

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


EXPORT_FEEDS: tuple[Endpoint, ...] = (
    Endpoint(
        "export/customers",
        "export",
        export.CUSTOMERS,
        "Customers (active, inactive and merged) from the customers export feed.",
    ),
    Endpoint(
        "export/customers/contacts",
        "export",
        export.CUSTOMER_CONTACTS,
        "Customer contact points (phone, e-mail, fax) from the customer contacts export feed.",
    ),
    Endpoint(
        "export/locations",
        "export",
        export.LOCATIONS,
        "Service locations of customers from the locations export feed.",
    ),
    Endpoint(
        "export/locations/contacts",
        "export",
        export.LOCATION_CONTACTS,
        "Location contact points from the location contacts export feed.",
    ),
    Endpoint(
        "export/leads",
        "export",
        export.LEADS,
        "Leads with status, priority, campaign and follow-up from the leads export feed.",
    ),
    Endpoint(
        "export/bookings",
        "export",
        export.BOOKINGS,
        "Bookings (from booking providers and the web) from the bookings export feed.",
    ),
)

EVERYTHING = {"active": "Any"}  # /customers and /locations answer active records only without it


def _top(path: str, fields, description: str, *, key=("id",), query=None, incremental=True, shape="paged"):
    return Endpoint(path, "list", fields, description, key, dict(query or {}), incremental, shape)


def _child(
    path: str,
    fields,
    description: str,
    parent_table: str,
    params: dict,
    types: dict,
    *,
    key=("id",),
    shape="paged",
    value_field=None,
) -> Endpoint:
    carried = {child_col: types[param] for param, (_, child_col) in params.items()}
    return Endpoint(
        path,
        "list",
        {**carried, **fields},
        description,
        key,
        {},
        False,
        shape,
        Parent(parent_table, params),
        value_field,
    )


LIST_ENDPOINTS: tuple[Endpoint, ...] = (
    _top(
        "booking-provider-tags", lists.BOOKING_PROVIDER_TAGS, "Tags that booking providers put on bookings."
    ),
    _top("bookings", lists.BOOKINGS, "Bookings, as the bookings list endpoint serves them."),
    _top("contacts", lists.CONTACTS, "Contacts (people) of the new contacts model; GUID ids."),
    _top(
        "contacts/contact-methods",
        lists.CONTACT_METHODS,
        "Phones, e-mails and other methods of each contact.",
    ),
    _top(
        "contacts/preferences",
        lists.CONTACT_PREFERENCE_TYPES,
        "The contact preference types of the tenant.",
        incremental=False,
        shape="array",
    ),
    _top("customers", lists.CUSTOMERS, "Customers, active and inactive (active=Any).", query=EVERYTHING),
    _top("customers/contacts", lists.CUSTOMER_CONTACTS, "Contact points of all customers."),
    _top(
        "customers/custom-fields",
        lists.CUSTOMER_CUSTOM_FIELD_TYPES,
        "Custom field types defined for customers.",
    ),
    _top("leads", lists.LEADS, "Leads, as the leads list endpoint serves them."),
    _top("locations", lists.LOCATIONS, "Locations, active and inactive (active=Any).", query=EVERYTHING),
    _top("locations/contacts", lists.LOCATION_CONTACTS, "Contact points of all locations."),
    _top(
        "locations/custom-fields",
        lists.LOCATION_CUSTOM_FIELD_TYPES,
        "Custom field types defined for locations.",
    ),
    _child(
        "customers/{id}/notes",
        lists.CUSTOMER_NOTES,
        "Notes on customers.",
        "raw_list.customers",
        {"id": ("id", "customerId")},
        {"id": INT},
    ),
    _child(
        "locations/{id}/notes",
        lists.LOCATION_NOTES,
        "Notes on locations.",
        "raw_list.locations",
        {"id": ("id", "locationId")},
        {"id": INT},
    ),
    _child(
        "leads/{id}/notes",
        lists.LEAD_NOTES,
        "Notes on leads.",
        "raw_list.leads",
        {"id": ("id", "leadId")},
        {"id": INT},
    ),
    _child(
        "bookings/{id}/contacts",
        lists.BOOKING_CONTACTS,
        "Contact points given with each booking.",
        "raw_list.bookings",
        {"id": ("id", "bookingId")},
        {"id": INT},
    ),
    _child(
        "contacts/{contactId}/relationships",
        lists.CONTACT_RELATIONSHIPS,
        "How contacts relate to customers, locations and other records.",
        "raw_list.contacts",
        {"contactId": ("id", "contactId")},
        {"contactId": TEXT},
    ),
    _child(
        "locations/{id}/preferredtechnician",
        lists.PREFERRED_TECHNICIAN,
        "The preferred technician of each location (null when none).",
        "raw_list.locations",
        {"id": ("id", "locationId")},
        {"id": INT},
        key=("locationId",),
        shape="value",
        value_field="technicianId",
    ),
    _child(
        "contacts/{contactId}/contact-methods/{contactMethodId}/preferences",
        lists.CONTACT_METHOD_PREFERENCES,
        "Preferences (opt-ins) of each contact method.",
        "raw_list.contacts_contact_methods",
        {"contactId": ("contactId", "contactId"), "contactMethodId": ("id", "contactMethodId")},
        {"contactId": TEXT, "contactMethodId": TEXT},
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
