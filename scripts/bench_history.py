"""The incremental cost of change history at a large history, a leg of `scripts/benchmark.py`.

Two files loaded alike; into one, older versions of its customers are written directly, up to a history of
`versions`
(each stored record again, its `modifiedOn` some days earlier: what years of changes leave behind).
Then, `rounds` times, the sandbox changes 100 customers and the same `raw_export/customers` run
updates each file, alternating: the fastest run of each is kept, and their ratio is the cost that the
history's size adds to an incremental run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx

from crm_pipeline.catalog import endpoint
from crm_pipeline.storage.history import superseded_table

FEED = "export/customers"


def seed_versions(database: Path, versions: int) -> int:
    """Write older versions of the file's customers into their superseded history, until the history
    (with the current versions) holds `versions`; returns how many it holds."""
    ep = endpoint(FEED)
    past = superseded_table(ep)
    with duckdb.connect(str(database)) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {ep.qualified_table}").fetchone()[0]
        older = max(versions - rows, 0)
        rounds = -(-older // max(rows, 1))
        conn.execute(
            f"INSERT INTO {past} BY NAME SELECT c.* "
            f'REPLACE (c."modifiedOn" - to_days(t.k::INTEGER) AS "modifiedOn") '
            f"FROM {ep.qualified_table} AS c, range(1, {rounds + 1}) AS t(k) LIMIT {older}"
        )
        conn.execute("CHECKPOINT")
        return conn.execute("SELECT count(*) FROM raw_history.customers").fetchone()[0]


def large_history_tails(
    run: Callable[[str], float], api_url: str, *, small: str, large: str, rounds: int = 2
) -> tuple[float, float]:
    """The fastest incremental run (`run(database)` -> step seconds) after 100 changes, into the file
    `small` and into `large`, alternating."""
    best = {small: float("inf"), large: float("inf")}
    for _ in range(rounds):
        httpx.post(f"{api_url}/_sandbox/change", json={"feed": FEED, "n": 100}).raise_for_status()
        for database in (small, large):
            best[database] = min(best[database], run(database))
    return best[small], best[large]
