"""For the fault tests: the issue's fault mix, the sandbox's log of API requests and of the faults it
served, and the check that every table landed exactly (each key once, every field as served)."""

from __future__ import annotations

import time

from crm_pipeline.storage.tables import quote
from crm_pipeline_tests.compare import differences, served

ISSUE_RATES = {"429": 0.05, "500": 0.03, "truncate": 0.02, "slow": 0.01}


def api_log(sb, part: str = "/crm/v2/") -> list:
    """The requests the sandbox logged whose path holds `part` (by default: the CRM API's)."""
    return [e for e in sb.request_log if part in e.path]


def assert_exact(conn, sb, tenant_id: str, endpoints) -> None:
    """Every table holds exactly what the sandbox serves, field by field, with no duplicate keys."""
    for ep in endpoints:
        assert differences(conn, ep, tenant_id, served(sb, ep)) == [], ep.path
        keys = ", ".join(quote(k) for k in ep.key)
        dupes = conn.execute(
            f"SELECT count(*) - count(DISTINCT ({keys})) FROM {ep.qualified_table} WHERE tenant_id = ?",
            [tenant_id],
        ).fetchone()[0]
        assert dupes == 0, f"{ep.qualified_table}: {dupes} duplicate keys"


def wait_for_faults(sb, n: int, timeout: float = 5.0) -> int:
    """Faulted requests in the log, once there are `n` (a slow answer is logged when the sandbox ends it)."""
    deadline = time.monotonic() + timeout
    while (seen := sum(e.fault is not None for e in api_log(sb))) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return seen
