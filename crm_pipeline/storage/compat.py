"""The DuckDB file in a storage format the analysts' tools read (the DuckDB CLI, Python and JDBC clients
of the last releases), not only the format of the DuckDB the pipeline runs.

A file's format is fixed when it is created: connections open it with `storage_config(version)`
(of CRM_DUCKDB_STORAGE_VERSION, default v1.2.0), so a new file is written readable by DuckDB 1.2 and later,
and the read-only copy, a byte copy of it, too. A file created in a newer format stays in it: check
it with `file_storage_number` and rewrite it once with `rewrite` (`crm-pipeline rewrite-storage`).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# Storage numbers the DuckDB 1.x readers of the last releases open (the DuckDB CLI 1.5 reads 64 to 68).
READABLE_BY_LAST_RELEASES = range(64, 69)
DEFAULT_STORAGE_NUMBER = 65  # what the default CRM_DUCKDB_STORAGE_VERSION (v1.2.0) writes
_HEADER = slice(8, 20)  # after the checksum: magic "DUCK", then the storage number (little-endian uint64)


def storage_config(version: str) -> dict[str, str]:
    """DuckDB config for every connection that may create the file: written in `version`'s format
    (crm_pipeline.settings.duckdb_storage_version)."""
    return {"storage_compatibility_version": version}


def file_storage_number(path: str | Path) -> int | None:
    """The storage number in a DuckDB file's header; None when the file does not exist or is not DuckDB."""
    try:
        with open(path, "rb") as f:
            header = f.read(64)[_HEADER]
    except FileNotFoundError:
        return None
    if header[:4] != b"DUCK":
        return None
    return int.from_bytes(header[4:], "little")


def rewrite(path: str | Path, version: str) -> int:
    """Rewrite the file in `version`'s storage format (CRM_DUCKDB_STORAGE_VERSION's): every schema,
    table, view and comment copied into a new file, which then replaces it. Needs the file to itself
    (no pipeline run, no open session). Returns the new file's storage number."""
    path = Path(path)
    target = path.with_name(f".{path.name}.{os.getpid()}.rewrite")
    target.unlink(missing_ok=True)
    try:
        with duckdb.connect() as conn:
            conn.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
            conn.execute(f"ATTACH '{target}' AS dst (STORAGE_VERSION '{version}')")
            conn.execute("COPY FROM DATABASE src TO dst")
        os.replace(target, path)
    finally:
        target.unlink(missing_ok=True)
        Path(f"{target}.wal").unlink(missing_ok=True)
    return file_storage_number(path)
