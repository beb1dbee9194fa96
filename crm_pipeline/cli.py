"""`crm-pipeline`: small maintenance commands on the DuckDB file (cursors, quarantine)."""

from __future__ import annotations

import argparse

import duckdb

from crm_pipeline.catalog import endpoint
from crm_pipeline.settings import Settings
from crm_pipeline.storage import ensure_state_tables, reset_position


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    reset = sub.add_parser("reset-cursor", help="forget a stream's stored position; its next run starts over")
    reset.add_argument("stream", help="endpoint path, e.g. export/customers")
    sub.add_parser("cursors", help="show every stored stream position")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    with duckdb.connect(settings.duckdb_path) as conn:
        ensure_state_tables(conn)
        if args.command == "reset-cursor":
            stream = endpoint(args.stream).path
            found = reset_position(conn, settings.tenant_id, stream)
            print(f"{stream}: cursor {'reset' if found else 'was not stored'}; the next run starts from the beginning")
        else:
            rows = conn.execute(
                "SELECT tenant_id, stream, has_more, updated_at, position FROM pipeline_state.cursors ORDER BY 1, 2"
            ).fetchall()
            for row in rows:
                print(*row, sep="\t")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
