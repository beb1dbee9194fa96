"""Which endpoints a code location loads: all of the catalog, or those a component's `endpoints` names."""

from __future__ import annotations

from collections.abc import Sequence

from crm_pipeline.catalog import ENDPOINTS, Endpoint
from crm_pipeline.settings import SettingsError


def asset_key_text(endpoint: Endpoint) -> str:
    """`raw_export/customers`: how `dg list defs` and `dg launch --assets` write the endpoint's asset key."""
    return "/".join(endpoint.asset_key_path)


def select_endpoints(keys: Sequence[str] | None) -> tuple[Endpoint, ...]:
    """The endpoints whose asset keys `keys` names, in catalog order; None: every endpoint.

    Asset keys, not table names: `raw_export/customers` and `raw_list/customers` are both `customers`.
    A parent-scoped endpoint needs its parent too, since its walk reads the parents' ids from the
    parent's table: naming one without its parent is refused rather than loading more than was asked.
    """
    if keys is None:
        return ENDPOINTS
    by_key = {asset_key_text(ep): ep for ep in ENDPOINTS}
    unknown = [key for key in keys if key not in by_key]
    if unknown:
        raise SettingsError(f"endpoints: unknown {', '.join(unknown)}; known: {', '.join(by_key)}")
    if not keys:
        raise SettingsError("endpoints: empty; leave the attribute out to load all 25 endpoints")
    wanted = set(keys)
    for key in keys:
        parent = by_key[key].parent
        parent_key = asset_key_text(parent) if parent else None
        if parent_key and parent_key not in wanted:
            raise SettingsError(
                f"endpoints: {key} is walked per row of {parent_key}, whose ids it reads from that table: "
                f"add {parent_key} to endpoints"
            )
    return tuple(ep for ep in ENDPOINTS if asset_key_text(ep) in wanted)
