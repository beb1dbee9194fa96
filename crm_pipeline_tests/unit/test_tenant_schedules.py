"""With several tenants (SERVICETITAN_TENANTS), each list schedule's tick asks for one run per tenant, each
run for that tenant's partition; Dagster takes several requests of one tick only when each has its run key."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from crm_pipeline.definitions import defs
from crm_pipeline.defs.servicetitan.schedules import FULL_WALK, INCREMENTAL

TENANTS = ["1001", "1002"]


@pytest.mark.parametrize("name", [INCREMENTAL, FULL_WALK])
def test_a_tick_requests_one_run_per_tenant(name, monkeypatch):
    monkeypatch.setenv("SERVICETITAN_TENANTS", ",".join(TENANTS))
    repository = defs().get_repository_def()
    when = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=repository
        )
        data = repository.get_schedule_def(name).evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == TENANTS
    assert len({r.run_key for r in data.run_requests}) == len(TENANTS)
