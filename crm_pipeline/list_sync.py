"""Copy a list endpoint into DuckDB: incrementally from a watermark, or in a whole walk that marks deletions.

- Endpoints that take `modifiedOnOrAfter` fetch what changed since the watermark minus an overlap, so
  that nothing modified during a walk is skipped. The watermark is the newest `modifiedOn` the last
  complete walk stored (the API's own clock: client clock skew does not matter), never later than
  the moment that walk started (a record dated in the future cannot stall the stream).
- Endpoints without it are small: every run walks them whole, in one transaction.
- A whole walk stamps `_deleted_at` on rows the API no longer returns (cleared if they come back).
- Parent-scoped endpoints (`customers/{id}/notes`, ...) are fetched for the parents stored or changed
  in their raw table since the last run, concurrently under the client's rate limit.
Each page (or batch of parents) is committed with the stream's position in one transaction.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from itertools import islice

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.servicetitan import ListPage, ServiceTitanClient, errors
from crm_pipeline.storage import (
    StreamPosition, ensure_raw_table, mark_deleted, read_position, store_position, transaction, write_rows,
)
from crm_pipeline.storage.backend import retrying
from crm_pipeline.storage.checkpoints import Checkpoints
from crm_pipeline.storage.tables import quote
from crm_pipeline.sync import ProgressCallback, SyncResult
from crm_pipeline.validation import ValidatedPage, validate_page

DEFAULT_OVERLAP = timedelta(minutes=10)
PAGE_SIZE = 5000
PARENT_BATCH = 256


class _Seen:
    """A temp table of the keys a walk received, to find what the API no longer returns."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, endpoint: Endpoint) -> None:
        self.conn, self.keys = conn, [quote(k) for k in endpoint.key]
        self.table = f"_seen_{endpoint.table}"
        types = ", ".join(f"{quote(k)} {endpoint.fields[k].duckdb}" for k in endpoint.key)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {self.table} ({types})")

    def add(self, page: ValidatedPage) -> None:
        if not page.frame.empty:
            self.conn.register("_seen_page", page.frame[[k.strip('"') for k in self.keys]])
            self.conn.execute(f"INSERT INTO {self.table} SELECT * FROM _seen_page")
            self.conn.unregister("_seen_page")

    def count(self) -> int:
        return self.conn.execute(f"SELECT count(*) FROM (SELECT DISTINCT * FROM {self.table})").fetchone()[0]


def _position(watermark: str | None, **extra) -> str:
    return json.dumps({"watermark": watermark, **extra})


def _watermark(conn, tenant_id: str, endpoint: Endpoint) -> str | None:
    stored = read_position(conn, tenant_id, endpoint.path)
    return json.loads(stored.position).get("watermark") if stored and stored.position else None


def _commit(conn, endpoint, tenant_id, records, result, seen, run_id, position, checkpoints) -> ValidatedPage:
    """Validate and write one page; in a transaction of its own unless `checkpoints` is None (the
    caller's transaction holds the whole walk)."""
    page = validate_page(endpoint, records)
    with nullcontext() if checkpoints is None else transaction(conn):
        upserted, quarantined = write_rows(conn, endpoint, tenant_id, page, run_id)
        seen.add(page)
        store_position(conn, tenant_id, endpoint.path, StreamPosition(position, True), run_id)
    if checkpoints is not None:
        checkpoints.committed(upserted)
    result.pages += 1
    result.records_received += len(records)
    result.rows_upserted += upserted
    result.quarantined += quarantined
    result.new_fields.update(page.extra_fields)
    return page


def _newest(page: ValidatedPage, newest: datetime | None) -> datetime | None:
    """The later of `newest` and the page's newest modifiedOn."""
    if "modifiedOn" not in page.frame or page.frame["modifiedOn"].isna().all():
        return newest
    latest = page.frame["modifiedOn"].max().floor("us").to_pydatetime()  # DuckDB keeps microseconds
    return latest if newest is None else max(newest, latest)


def sync_list(
    client: ServiceTitanClient, conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, *,
    full: bool = False, overlap: timedelta = DEFAULT_OVERLAP, page_size: int = PAGE_SIZE, workers: int = 16,
    run_id: str | None = None, on_page: ProgressCallback | None = None,
) -> SyncResult:
    """Bring `endpoint`'s raw table up to date; `full` forces a whole walk (and deletion marking).
    On a DuckLake, a commit refused for conflicting with another writer's runs the sync again from its
    stored position (storage.backend.retrying); on the file it runs once."""
    ensure_raw_table(conn, endpoint)
    began, requests_before = time.monotonic(), client.stats["requests"]
    result = retrying(conn, lambda: _walk(client, conn, endpoint, tenant_id, full, overlap, page_size, workers,
                                          run_id, on_page))
    result.seconds = time.monotonic() - began
    result.requests = client.stats["requests"] - requests_before
    result.has_more = False
    return result


def _walk(client, conn, endpoint, tenant_id, full, overlap, page_size, workers, run_id, on_page) -> SyncResult:
    watermark = _watermark(conn, tenant_id, endpoint)
    result = SyncResult(stream=endpoint.path, started_from=watermark)
    if endpoint.parent is not None:
        _sync_children(client, conn, endpoint, tenant_id, full or watermark is None, watermark, workers,
                       run_id, on_page, result)
    else:
        _sync_top(client, conn, endpoint, tenant_id, full, watermark, overlap, page_size, run_id, on_page, result)
    return result


def _sync_top(client, conn, endpoint, tenant_id, full, watermark, overlap, page_size, run_id, on_page, result):
    whole = full or not endpoint.incremental or watermark is None
    walk_started = datetime.now(timezone.utc)
    params = dict(endpoint.query)
    if not whole:
        since = datetime.fromisoformat(watermark) - overlap
        params["modifiedOnOrAfter"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    atomic = not endpoint.incremental  # small endpoints are replaced in one transaction
    seen, newest = _Seen(conn, endpoint), datetime.fromisoformat(watermark) if watermark else None
    checkpoints = None if atomic else Checkpoints(conn)
    with transaction(conn) if atomic else nullcontext():
        for _attempt in range(3):  # records modified mid-walk shift pages: walk again if keys went missing
            for page in _pages(client, endpoint, params, page_size):
                result.total_count = page.total_count if page.page == 1 else result.total_count
                stored = _commit(conn, endpoint, tenant_id, page.data, result, seen, run_id, _position(watermark),
                                 checkpoints)
                newest = _newest(stored, newest)
                if on_page:
                    on_page(result)
            if result.total_count is None or seen.count() >= result.total_count:
                break
        with nullcontext() if atomic else transaction(conn):
            if whole:
                result.deleted = mark_deleted(conn, endpoint, tenant_id, seen.table)
            mark = min(newest, walk_started).isoformat() if newest else None
            result.position = _position(mark, total_count=result.total_count)
            store_position(conn, tenant_id, endpoint.path, StreamPosition(result.position, False), run_id)


def _pages(client, endpoint: Endpoint, params: dict, page_size: int):
    if endpoint.shape == "array":
        data = client.get_json(endpoint.path, params) or []
        return [ListPage(data=data, page=1, has_more=False, total_count=len(data))]
    return client.list_pages(endpoint.path, params, page_size=page_size)


def _children(client: ServiceTitanClient, endpoint: Endpoint, parent: dict) -> list[dict]:
    """Every child record of one parent, each carrying the parent's ids."""
    values = {param: parent[param] for param in endpoint.parent.params}
    carried = {child_col: parent[param] for param, (_, child_col) in endpoint.parent.params.items()}
    path = endpoint.path.format(**values)
    try:
        if endpoint.shape == "value":
            return [{**carried, "technicianId": client.get_json(path)}]
        if endpoint.shape == "array":
            return [{**r, **carried} if isinstance(r, dict) else r for r in client.get_json(path) or []]
        return [{**r, **carried} if isinstance(r, dict) else r
                for page in client.list_pages(path, page_size=PAGE_SIZE) for r in page.data]
    except errors.NotFound:  # the parent is gone since its row was stored: no children
        return []


def _parents(conn, endpoint: Endpoint, tenant_id: str, since: str | None) -> list[dict]:
    """The path parameters of every parent stored (or stored since `since`): keys only, small."""
    parent = endpoint.parent
    exists = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name || '.' || table_name = ?",
                          [parent.table]).fetchone()[0]
    if not exists:
        raise RuntimeError(f"{endpoint.path} needs its parents in {parent.table}: materialize "
                           f"{'/'.join(parent.asset_key_path)} first")
    cols = ", ".join(f"{quote(col)} AS {quote(param)}" for param, (col, _) in parent.params.items())
    where = "tenant_id = ?" + (" AND _synced_at >= ?::TIMESTAMPTZ" if since else "")
    args = [tenant_id] + ([since] if since else [])
    cursor = conn.execute(f"SELECT DISTINCT {cols} FROM {parent.table} WHERE {where}", args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _sync_children(client, conn, endpoint, tenant_id, whole, watermark, workers, run_id, on_page, result):
    walk_started = conn.execute("SELECT now()::VARCHAR").fetchone()[0]
    parents = _parents(conn, endpoint, tenant_id, None if whole else watermark)
    seen, fetched = _Seen(conn, endpoint), f"_parents_{endpoint.table}"
    checkpoints = Checkpoints(conn)
    carried = [(param, child) for param, (_, child) in endpoint.parent.params.items()]
    columns = ", ".join(f"{quote(child)} {endpoint.fields[child].duckdb}" for _, child in carried)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {fetched} ({columns})")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm-children") as pool:
        it = iter(parents)
        while batch := list(islice(it, PARENT_BATCH)):
            records = [r for children in pool.map(lambda p: _children(client, endpoint, p), batch) for r in children]
            conn.executemany(f"INSERT INTO {fetched} VALUES ({', '.join('?' for _ in carried)})",
                             [[p[param] for param, _ in carried] for p in batch])
            _commit(conn, endpoint, tenant_id, records, result, seen, run_id, _position(watermark), checkpoints)
            if on_page:
                on_page(result)
    with transaction(conn):
        cols = ", ".join(quote(c) for _, c in carried)
        scope = "TRUE" if whole else f"({cols}) IN (SELECT {cols} FROM {fetched})"
        result.deleted = mark_deleted(conn, endpoint, tenant_id, seen.table, scope)
        result.position = _position(walk_started, parents=len(parents))
        store_position(conn, tenant_id, endpoint.path, StreamPosition(result.position, False), run_id)
