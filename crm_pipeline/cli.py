"""`crm-pipeline`: maintenance commands on the DuckDB file (cursors, quarantine), its catalog of tables."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

from crm_pipeline.catalog import endpoint
from crm_pipeline.settings import DEFAULT_DUCKDB_PATH, Settings, SettingsError, duckdb_storage_version
from crm_pipeline.storage import ensure_state_tables, reset_position
from crm_pipeline.storage.compat import storage_config
from crm_pipeline.storage.lake import (
    DATA_PATH_SETTING,
    LakeUnavailable,
    connect_lake,
    is_lake_path,
    object_store_settings,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    reset = sub.add_parser("reset-cursor", help="forget a stream's stored position; its next run starts over")
    reset.add_argument("stream", help="endpoint path, e.g. export/customers")
    sub.add_parser("cursors", help="show every stored stream position")
    tables = sub.add_parser("catalog", help="write the Markdown catalog of tables (docs/TABLES.md)")
    tables.add_argument(
        "--database", help="add live row counts and last writes from this DuckDB file (read-only)"
    )
    tables.add_argument("--output", help="write to this file (default: print)")
    rewrite = sub.add_parser(
        "rewrite-storage",
        help="rewrite the DuckDB file in CRM_DUCKDB_STORAGE_VERSION's format "
        "(once, for a file created in a newer format; no run may hold it)",
    )
    rewrite.add_argument("--database", help="the file (default: CRM_DUCKDB_PATH)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "catalog":
        return catalog(args.database, args.output)
    if args.command == "rewrite-storage":
        return rewrite_storage(args.database or os.environ.get("CRM_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)
    try:
        stream = endpoint(args.stream).path if args.command == "reset-cursor" else None
        settings = Settings.from_env()
    except (KeyError, SettingsError) as exc:
        parser.error(str(exc.args[0]))
    return cursors(settings, stream)


def cursors(settings: Settings, stream: str | None) -> int:
    """`reset-cursor` (`stream` given) or `cursors`: the stored positions in the file or lake of settings."""
    try:
        if is_lake_path(settings.duckdb_path):
            conn = connect_lake(
                settings.duckdb_path,
                os.environ.get(DATA_PATH_SETTING),
                object_store=object_store_settings(os.environ),
            )
        else:
            conn = duckdb.connect(
                settings.duckdb_path, config=storage_config(duckdb_storage_version(os.environ))
            )
    except LakeUnavailable as exc:  # its message names the setting, the password hidden
        print(f"crm-pipeline: {exc}", file=sys.stderr)
        return 1
    except duckdb.IOException as exc:  # e.g. a running materialization holds the file
        print(f"crm-pipeline: cannot open {settings.duckdb_path} for writing: {exc}", file=sys.stderr)
        return 1
    with conn:
        ensure_state_tables(conn)
        if stream is not None:
            found = reset_position(conn, settings.tenant_id, stream)
            print(
                f"{stream}: cursor {'reset' if found else 'was not stored'}; "
                "the next run starts from the beginning"
            )
        else:
            rows = conn.execute(
                "SELECT tenant_id, stream, has_more, updated_at, position FROM pipeline_state.cursors "
                "ORDER BY 1, 2"
            ).fetchall()
            for row in rows:
                print(*row, sep="\t")
    return 0


def rewrite_storage(database: str) -> int:
    """`crm-pipeline rewrite-storage`: the file rewritten in the configured storage format, if it is not."""
    from crm_pipeline.storage import compat

    before = compat.file_storage_number(database)
    if before is None:
        print(f"crm-pipeline: no DuckDB file at {database}", file=sys.stderr)
        return 1
    try:
        after = compat.rewrite(database, duckdb_storage_version(os.environ))
    except duckdb.IOException as exc:  # a run or a session holds it
        print(
            f"crm-pipeline: cannot rewrite {database} ({exc}); stop the runs and sessions using it",
            file=sys.stderr,
        )
        return 1
    print(f"{database}: storage {before} -> {after}")
    return 0


def catalog(database: str | None, output: str | None) -> int:
    """`crm-pipeline catalog`: no settings needed; the database, if given, is opened read-only."""
    from crm_pipeline import table_catalog

    if database and not Path(database).is_file():
        print(f"crm-pipeline: no DuckDB file at {database}", file=sys.stderr)
        return 1
    try:
        text = table_catalog.render(database)
    except duckdb.IOException as exc:  # a writer holds the file: the read-only copy is meant for this
        print(
            f"crm-pipeline: cannot open {database} read-only ({exc}); use the read-only copy the pipeline "
            "publishes (CRM_DUCKDB_READONLY_PATH)",
            file=sys.stderr,
        )
        return 1
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
