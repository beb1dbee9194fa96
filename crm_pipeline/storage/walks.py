"""The plan of a parent-scoped stream's walks, as a sync uses it: planned with the stream's position in
one transaction, read a chunk at a time, put back when every parent of a run answered 404.

Which parents are pending and when each was visited is `pipeline_state.parents` (storage.parents); the
children of the parents a batch visited are committed with them (storage.batch).
"""

from __future__ import annotations

from collections.abc import Callable

from crm_pipeline.catalog import Endpoint
from crm_pipeline.storage import parents as plan
from crm_pipeline.storage.cursors import StreamPosition, store_position
from crm_pipeline.storage.stores import Store
from crm_pipeline.storage.transactions import committed


class ParentWalks:
    """The walks of one parent-scoped stream of one tenant (see the module)."""

    def __init__(self, store: Store, endpoint: Endpoint, tenant_id: str) -> None:
        self.store, self.endpoint, self.tenant_id = store, endpoint, tenant_id

    def prepare(self) -> None:
        """Create the plan's table if missing; fail if the parents' table was never loaded."""
        with self.store.lease() as conn:
            plan.ensure_parents_table(conn)
            if not plan.parent_table_exists(conn, self.endpoint):
                parent = self.endpoint.parent
                raise RuntimeError(
                    f"{self.endpoint.path} needs its parents in {parent.table}: materialize "
                    f"{'/'.join(parent.asset_key_path)} first"
                )

    def plan(
        self, *, since: str | None, extra: int, position: Callable[[str, int], StreamPosition]
    ) -> tuple[str, int]:
        """Plan a new walk (every parent when `since` is None; see parents.plan_walk) and store
        `position(started, planned)` with it; return (started, planned), `started` on DuckDB's clock."""
        endpoint, tenant_id = self.endpoint, self.tenant_id
        with self.store.lease() as conn:
            started = conn.execute("SELECT now()::VARCHAR").fetchone()[0]

            def work() -> int:
                planned = plan.plan_walk(conn, endpoint, tenant_id, since=since, extra=extra)
                where = position(started, planned)
                store_position(conn, tenant_id, endpoint.path, position=where, run_id=None)
                return planned

            return started, committed(conn, work, stream=(tenant_id, endpoint.path))

    def pending_count(self) -> int:
        with self.store.lease() as conn:
            return plan.pending_count(conn, self.endpoint, self.tenant_id)

    def pending(self, *, after: tuple[str, str] | None, limit: int) -> list[dict]:
        """Up to `limit` pending parents after `after` (see parents.pending_parents)."""
        with self.store.lease() as conn:
            return plan.pending_parents(conn, self.endpoint, self.tenant_id, after=after, limit=limit)

    def rotation_state(self, within_hours: float | None = None) -> tuple[int, int, str | None]:
        """(parents known, visited within `within_hours`, the oldest visit; see parents.rotation_state)."""
        with self.store.lease() as conn:
            return plan.rotation_state(conn, self.endpoint, self.tenant_id, within_hours=within_hours)

    def undo(self, since: str) -> None:
        """Set the parents visited since `since` pending again."""
        with self.store.lease() as conn:
            committed(
                conn,
                lambda: conn.execute(
                    f"UPDATE {plan.PARENTS} SET pending = true WHERE tenant_id = ? AND stream = ? "
                    "AND visited_at >= ?::TIMESTAMPTZ",
                    [self.tenant_id, self.endpoint.path, since],
                ),
                stream=(self.tenant_id, self.endpoint.path),
            )
