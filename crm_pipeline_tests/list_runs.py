"""Runs of the list group through Dagster, as the schedules start them, for the hardening tests (#18).

Only Dagster's interface is used (the assets of `list_assets`, their run config `full_walk`), so the tests
hold whatever module syncs an endpoint and however the endpoints are grouped into ops.
"""

from __future__ import annotations

import dagster as dg

from crm_pipeline.defs.servicetitan.list_assets import build_list_assets
from crm_pipeline_tests.dagster_helpers import resources

list_assets = [build_list_assets()]


def walk_config(*, full_walk: bool, selection: list[str] | None = None) -> dict:
    """`full_walk` for every op of the list assets (those in `selection`, when given)."""
    wanted = None if selection is None else {dg.AssetKey.from_user_string(k) for k in selection}
    ops = {a.op.name for a in list_assets if wanted is None or wanted & set(a.keys)}
    return {"ops": {name: {"config": {"full_walk": full_walk}} for name in ops}}


def materialize_lists(
    settings,
    instance,
    *,
    full_walk: bool = False,
    selection: list[str] | None = None,
    raise_on_error: bool = True,
    readonly_copy: str | None = None,
) -> dg.ExecuteInProcessResult:
    """The list group (or `selection` of its asset keys, like "raw_list/customers") in one run."""
    return dg.materialize(
        list_assets,
        selection=selection,
        instance=instance,
        resources=resources(settings, readonly_copy),
        run_config=walk_config(full_walk=full_walk, selection=selection),
        raise_on_error=raise_on_error,
    )


def failure_texts(result: dg.ExecuteInProcessResult) -> str:
    """Every step failure's error with its causes (class names and messages), as one text."""
    lines = []
    for event in result.all_events:
        error = event.step_failure_data.error if event.is_step_failure else None
        while error is not None:
            lines.append(f"{error.cls_name}: {error.message}")
            error = error.cause or error.context
    return "\n".join(lines)
