"""A tenant's request budget in PostgreSQL: shared by every process of every machine that reaches the
same server (a lake's catalog, or a deployment's Dagster database).

The state is the one of :mod:`.adaptive`, as a row of ``crm_pipeline_api_budget``, read and written under
``SELECT ... FOR UPDATE``; times are the server's clock (the one clock every machine shares). To keep the
round trips off the request path a process leases the next LEASE_SECONDS of slots in one transaction and
hands them to its threads, and reports good answers with its next lease; a 429 is reported at once, so
that every machine drops its rate together.
"""

from __future__ import annotations

import collections
import threading
import time

from .adaptive import NEVER, BudgetState
from .ratelimit import Slot, check_rate, wait_for_turn

LEASE_SECONDS = 0.1  # the slots one transaction takes: a few requests' worth at the documented 60/s
STALE_SECONDS = 0.5  # a leased slot this far in the past is dropped: sending on it would be a burst
TABLE = "crm_pipeline_api_budget"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (budget_key TEXT PRIMARY KEY, state DOUBLE PRECISION[] NOT NULL)"
)


class PostgresRateLimiter:
    """The :class:`~.ratelimit.SharedRateLimiter` of processes on several machines: the budget ``key``
    (API and tenant) in the database that ``dsn`` (a libpq connection string) names."""

    def __init__(self, rate: float | None, *, dsn: str, key: str, stop: threading.Event | None = None):
        try:
            import psycopg2
        except ImportError as error:  # the `lake` extra brings it
            raise RuntimeError(
                "a budget in PostgreSQL needs psycopg2: pip install 'crm-pipeline[lake]'"
            ) from error
        self.ceiling = check_rate(rate)
        self.key = key
        self._conn = psycopg2.connect(dsn, application_name="crm-pipeline budget")
        with self._conn, self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))  # one CREATE at a time
            cur.execute(_CREATE)
            cur.execute(
                f"INSERT INTO {TABLE} VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (key, list(BudgetState().values())),
            )
        self._lock = threading.Lock()
        self._stop = stop or threading.Event()
        self._lease: collections.deque[float] = collections.deque()
        self._pending: list[tuple[float, float, bool]] = []  # answers not reported yet: (at, sent_at, 429)
        self._offset = 0.0  # the server's clock minus this machine's, as of the last transaction
        self._rate: float | None = self.ceiling
        self._last_drop = NEVER  # the last drop of the shared rate this process has seen

    @property
    def rate(self) -> float | None:
        """Requests per second the budget allowed at this process's last transaction."""
        return self._rate

    def acquire(self, stop: threading.Event | None = None) -> Slot:
        """Block until this thread may send a request."""
        if self.ceiling is None:  # no limit: nothing to share, no round trip
            return Slot(time.time(), 0.0)

        def grant() -> tuple[float, float] | None:
            with self._lock:
                if self._conn is None:
                    return None
                now = self._now()
                while self._lease and self._lease[0] < now - STALE_SECONDS:
                    self._lease.popleft()
                if not self._lease:
                    self._transact(lease=True)
                    now = self._now()
                return self._lease.popleft(), now

        return wait_for_turn(grant, lambda granted: self._last_drop > granted, self._stop, stop)

    def answered(self, slot: Slot, *, throttled: bool) -> bool:
        """Learn from one answer; a 429 is reported at once. True when the shared rate dropped."""
        if self.ceiling is None:
            return False
        with self._lock:
            if self._conn is None:
                return False
            self._pending.append((self._now(), slot.at, throttled))
            return self._transact(lease=False) if throttled else False

    def close(self) -> None:
        """Report what is pending and close the connection. Safe to call twice."""
        with self._lock:
            if self._conn is None:
                return
            try:
                if self._pending:
                    self._transact(lease=False)
            finally:
                self._conn.close()
                self._conn = None

    def _now(self) -> float:
        return time.time() + self._offset

    def _transact(self, *, lease: bool) -> bool:
        """Report the pending answers and, with ``lease``, take the next slots; True if the rate dropped."""
        with self._conn, self._conn.cursor() as cur:
            cur.execute(
                f"SELECT state, extract(epoch FROM clock_timestamp()) FROM {TABLE} WHERE budget_key = %s "
                "FOR UPDATE",
                (self.key,),
            )
            values, server_now = cur.fetchone()
            self._offset = float(server_now) - time.time()
            # a row of another release's layout is read as a budget that has learned nothing yet
            state = BudgetState(*values) if len(values) == BudgetState.size() else BudgetState(values[0])
            dropped = False
            for at, sent_at, throttled in self._pending:
                dropped |= state.answered(at, sent_at=sent_at, throttled=throttled, ceiling=self.ceiling)
            self._pending.clear()
            if state.last_drop > self._last_drop:  # the slots leased before are spaced at the old rate
                self._last_drop = state.last_drop
                self._lease.clear()
            now = self._now()
            if lease:
                self._lease.append(state.take(now, self.ceiling))
                waited = state.last_wait  # the slots leased ahead don't say the budget binds: only the first
                for _ in range(int((state.rate(now, self.ceiling) or 0.0) * LEASE_SECONDS) - 1):
                    self._lease.append(state.take(now, self.ceiling))
                state.last_wait = waited
            self._rate = state.rate(now, self.ceiling)
            cur.execute(
                f"UPDATE {TABLE} SET state = %s WHERE budget_key = %s", (list(state.values()), self.key)
            )
        return dropped
