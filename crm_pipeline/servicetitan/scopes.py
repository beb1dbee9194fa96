"""The API scope a CRM v2 path needs, for error messages when an app lacks it.

ServiceTitan grants an app API scopes one by one; a request outside them answers 403 (some gateways
404 for the whole path). The OpenAPI description names each operation's scope under
`security: oauth`. For every GET path of CRM v2 it follows one rule, which this module applies
instead of shipping the spec: `tn.crm.<first segment of the path, dashes removed>:r`
(`booking-provider-tags` -> `tn.crm.bookingprovidertags:r`, labelled "CRM → Booking Provider Tags (Read)"
in the developer portal), the export feeds taking their second segment (`export/locations/contacts` ->
`tn.crm.locations:r`) and a booking provider's bookings their third (`booking-provider/{p}/bookings` ->
`tn.crm.bookings:r`). Checked against all 40 GET paths of crm-v2.openapi.json; that it holds for
paths the spec does not list yet is an assumption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TENANT_PREFIX = re.compile(r"^.*?/crm/v2/tenant/[^/]+/")


@dataclass(frozen=True)
class Scope:
    """An API scope: its name (`tn.crm.customers:r`) and how the developer portal labels it."""

    name: str
    label: str

    def __str__(self) -> str:
        return f"{self.name} ({self.label})"


def relative_path(path: str) -> str:
    """`GET /crm/v2/tenant/1/customers/5/notes` or `customers/5/notes` -> `customers/5/notes`."""
    bare = path.split(" ", 1)[-1].split("?", 1)[0]
    return _TENANT_PREFIX.sub("", bare).strip("/")


def scope_for_path(path: str) -> Scope:
    """The read scope a CRM v2 path (relative, or as the client names a request) most likely needs."""
    segments = [s for s in relative_path(path).split("/") if s]
    if segments and segments[0] == "export" and len(segments) > 1:
        segments = segments[1:]
    if segments and segments[0] == "booking-provider" and len(segments) > 2:
        segments = segments[2:]
    resource = segments[0] if segments else "unknown"
    label = " ".join(word.capitalize() for word in resource.split("-"))
    return Scope(f"tn.crm.{resource.replace('-', '')}:r", f"CRM → {label} (Read)")


# Endpoints of different scopes that tell a refused app key from a missing scope after a 403 (one small
# page each): an app that reads CRM data is most likely granted at least one of them.
PROBE_PATHS = ("customers", "locations", "leads", "bookings")


def probe_paths_for(refused: str) -> list[str]:
    """The probe endpoints outside the scope of the ``refused`` path."""
    scope = scope_for_path(refused).name
    return [path for path in PROBE_PATHS if scope_for_path(path).name != scope]
