"""On a DuckLake, the writers of one stream take turns: each transaction that writes a tenant's stream
(a page with its cursor, a walk's plan, its deletions) holds a PostgreSQL advisory lock of that tenant and
stream, in the catalog's database, from before its BEGIN until after its COMMIT.

Why: a lake has no key constraints, and DuckLake refuses a commit only when it changes rows that another
commit changed since its snapshot. An upsert of keys not stored yet deletes nothing, so two writers
loading the same new records at once (two machines running the export group of one tenant) would both
insert them: the table doubled. Taking turns, the later transaction begins after the earlier one
committed, sees its rows and replaces them. Transactions of other streams never wait for each other.

Each thread keeps one PostgreSQL session for its turns (a session's advisory locks are its own; a
session shared by threads would let them overlap). A process that dies ends its sessions, and with them
its turns: nothing is left held.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from crm_pipeline.storage.lake import catalog_of, redact

_local = threading.local()  # this thread's sessions, by catalog
_inherited: list = []  # sessions of a parent process, kept open in a forked child (see _sessions)


def turn_key(tenant_id: str, stream: str) -> int:
    """The advisory lock's key of a tenant's stream (a signed 64-bit hash; no id in the catalog)."""
    digest = hashlib.sha256(f"crm-pipeline stream turn\n{tenant_id}\n{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _sessions() -> dict:
    """This thread's sessions, by catalog. A forked child opens its own; the parent's it inherited are
    kept, unused (closing one would end the parent's session: they share its socket)."""
    if getattr(_local, "pid", None) != os.getpid():
        _inherited.append(getattr(_local, "sessions", None))
        _local.pid, _local.sessions = os.getpid(), {}
    return _local.sessions


def _session(dsn: str):
    sessions = _sessions()
    session = sessions.get(dsn)
    if session is None or session.closed:
        import psycopg2  # the lake's extra installs it (dagster-postgres)

        try:
            session = psycopg2.connect(dsn, application_name="crm-pipeline stream turns")
        except psycopg2.Error as error:
            raise RuntimeError(f"cannot reach the lake's catalog for a turn: {redact(str(error))}") from None
        session.autocommit = True
        sessions[dsn] = session
    return session


def _forget(dsn: str) -> None:
    session = _sessions().pop(dsn, None)
    if session is not None:
        session.close()


@contextmanager
def stream_turn(conn: duckdb.DuckDBPyConnection, stream: tuple[str, str] | None) -> Iterator[None]:
    """The turn of `stream` (tenant id, endpoint path) while the block runs, when `conn` is a lake's;
    otherwise nothing (a DuckDB file has one writer at a time, and its keys are constraints)."""
    dsn = catalog_of(conn) if stream is not None else None
    if dsn is None:
        yield
        return
    key, session = turn_key(*stream), _session(dsn)
    try:
        with session.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (key,))
    except Exception:
        _forget(dsn)  # a broken session: the next turn opens a new one
        raise
    try:
        yield
    finally:
        try:
            with session.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
        except Exception:  # noqa: BLE001 (closing the session ends the turn as well)
            _forget(dsn)
