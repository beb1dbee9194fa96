"""The demo: start the sandbox API, materialize the export assets with the Dagster CLI, show what landed.

Run it with `bash scripts/demo.sh` (sets up .venv first) or, from the repository root,
`python -m crm_pipeline_tests.demo`. It lives beside the sandbox it starts: neither ships in the wheel.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from crm_pipeline.catalog import ENDPOINTS
from crm_pipeline.storage.locking import readonly_copy_path
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=300, help="size of the sandbox tenant")
    parser.add_argument("--select", default="*", help="Dagster asset selection (default: everything)")
    parser.add_argument("--database", default=str(ROOT / "data" / "demo.duckdb"))
    args = parser.parse_args(argv)

    with Sandbox(seed=1, sizes={"customers": args.customers}, page_size=500) as sandbox:
        env = {
            **os.environ,
            **sandbox.env(),
            "CRM_DUCKDB_PATH": args.database,
            "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(ROOT / "dagster_home")),
        }
        Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        print(
            f"sandbox API at {sandbox.api_url} (tenant {sandbox.tenant_id}); loading into {args.database}",
            flush=True,
        )
        command = materialize_command(args.select)
        print("$ " + " ".join(command[1:]), flush=True)
        done = subprocess.run(command, env=env, cwd=ROOT)
        if done.returncode != 0:
            print("the run failed: see the Dagster log above", file=sys.stderr)
            return done.returncode
    _summary(args.database)
    return 0


def _summary(database: str) -> None:
    print("\nRows per table:")
    with duckdb.connect(database, read_only=True) as conn:
        tables = {
            f"{s}.{t}"
            for s, t in conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        }
        for ep in ENDPOINTS:
            if ep.qualified_table in tables:
                count = conn.execute(f"SELECT count(*) FROM {ep.qualified_table}").fetchone()[0]
                print(f"  {ep.qualified_table:<40} {count:>8}")
        quarantined = conn.execute("SELECT count(*) FROM pipeline_state.quarantine").fetchone()[0]
        print(f"  {'pipeline_state.quarantine':<40} {quarantined:>8}")
        models = conn.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE schema_name IN "
            "('staging', 'marts') UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() "
            "WHERE schema_name IN ('staging', 'marts') ORDER BY 1"
        ).fetchall()
        if models:
            print("SQL models (dbt_like_sql/):")
        for (name,) in models:
            print(f"  {name:<40} {conn.execute(f'SELECT count(*) FROM {name}').fetchone()[0]:>8}")
    query = f"duckdb.connect('{database}', read_only=True).sql('FROM marts.customers_overview LIMIT 5')"
    catalog = f"`.venv/bin/crm-pipeline catalog --database {database}` for live counts"
    sandbox = ".venv/bin/python -m crm_pipeline_tests.sandbox --port 8765"
    dagster = f"CRM_DUCKDB_PATH={database} DAGSTER_HOME=$PWD/dagster_home .venv/bin/dg dev"
    print(f"""
The DuckDB file: {database}
  query it:        .venv/bin/python -c "import duckdb; {query}.show()"
  while runs write: query the read-only copy published after each run, {readonly_copy_path(database)}
  what each table holds: docs/TABLES.md (or {catalog})
  open the UI:     terminal 1: {sandbox}   (serves the sandbox, prints `export` lines)
                   terminal 2: paste those lines, then
                   {dagster}   and open http://127.0.0.1:3000
""")


if __name__ == "__main__":
    raise SystemExit(main())
