"""Housekeeping of a DuckLake: without it every page commit leaves a Parquet file (or inlined rows) and a
snapshot, and every upsert a delete file, for ever. Run on a schedule (defs/lake_maintenance.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

import duckdb

from crm_pipeline.storage.backend import retrying
from crm_pipeline.storage.lake import CATALOG

DEFAULT_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class LakeFiles:
    data_files: int
    delete_files: int
    snapshots: int

    def as_metadata(self, prefix: str) -> dict[str, int]:
        return {f"{prefix}_{name}": value for name, value in asdict(self).items()}


def lake_files(conn: duckdb.DuckDBPyConnection) -> LakeFiles:
    """How many data and delete files the current snapshot references, and how many snapshots are kept."""
    data, deletes = conn.execute(
        "SELECT coalesce(sum(file_count), 0), coalesce(sum(delete_file_count), 0) "
        f"FROM ducklake_table_info('{CATALOG}')"
    ).fetchone()
    snapshots = conn.execute(f"SELECT count(*) FROM ducklake_snapshots('{CATALOG}')").fetchone()[0]
    return LakeFiles(int(data), int(deletes), int(snapshots))


def maintain_lake(
    conn: duckdb.DuckDBPyConnection, retention: timedelta = DEFAULT_RETENTION
) -> tuple[LakeFiles, LakeFiles]:
    """Write inlined rows out, merge small files, rewrite files mostly deleted by upserts, expire snapshots
    older than `retention` and delete the files nothing references any more (also files a killed writer
    left uncommitted, once older than `retention`, so that no writer in progress loses one).
    Returns the counts before and after. A step that conflicts with a writer's commit is run again."""
    before = lake_files(conn)
    older_than = f"now() - INTERVAL '{int(retention.total_seconds())} seconds'"
    for statement in (
        f"CALL ducklake_flush_inlined_data('{CATALOG}')",
        f"CALL ducklake_rewrite_data_files('{CATALOG}')",
        f"CALL ducklake_merge_adjacent_files('{CATALOG}')",
        f"CALL ducklake_expire_snapshots('{CATALOG}', older_than => {older_than})",
        f"CALL ducklake_cleanup_old_files('{CATALOG}', older_than => {older_than})",
        f"CALL ducklake_delete_orphaned_files('{CATALOG}', older_than => {older_than})",
    ):
        retrying(conn, lambda statement=statement: conn.execute(statement).fetchall())
    return before, lake_files(conn)
