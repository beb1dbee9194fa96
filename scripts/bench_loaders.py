"""What `scripts/benchmark.py` measures the project against, on the same sandbox data:

floor     fetch every page of export/customers and parse it, nothing else;
baseline  the fastest simple hand-written loader: each page read by DuckDB's `read_json` with the
          columns and their types given (those of the raw table), unnested and inserted, all in one
          transaction, with DuckDB's default settings and no validation.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm_pipeline.catalog import endpoint  # noqa: E402
from crm_pipeline.servicetitan import ServiceTitanClient  # noqa: E402
from crm_pipeline.settings import Settings  # noqa: E402

FEED = "export/customers"
_HAS_MORE = re.compile(rb'"hasMore"\s*:\s*(true|false)')
_CONTINUE_FROM = re.compile(rb'"continueFrom"\s*:\s*"([^"\\]*)"')


def floor(settings: Settings) -> int:
    with ServiceTitanClient(settings, rate_limit=None) as client:
        return sum(len(p.data) for p in client.export_pages(FEED))


def typed_columns() -> str:
    """The envelope's columns for read_json: `data` a list of records typed as the raw table's columns."""
    fields = ", ".join(f'"{n}" {t.duckdb}' for n, t in endpoint(FEED).fields.items())
    return f"{{'data': 'STRUCT({fields})[]', 'hasMore': 'BOOLEAN', 'continueFrom': 'VARCHAR'}}"


def baseline(settings: Settings, workdir: Path) -> int:
    """The typed loader (see the module's docstring); the envelope's two fields are read from the bytes."""
    token = httpx.post(
        settings.auth_url,
        data={
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "ST-App-Key": settings.app_key}
    url = f"{settings.api_url}/crm/v2/tenant/{settings.tenant_id}/{FEED}"
    conn = duckdb.connect(str(workdir / "baseline.duckdb"))
    page_file, params = workdir / "page.json", {}
    columns = ", ".join(f'"{n}" {t.duckdb}' for n, t in endpoint(FEED).fields.items())
    rel = (
        f"SELECT unnest(data, max_depth := 2) FROM read_json('{page_file}', columns = {typed_columns()}, "
        "maximum_object_size = 1e9)"
    )
    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE customers ({columns})")
    with httpx.Client(headers=headers, timeout=130) as http:
        while True:
            body = http.get(url, params=params).content
            page_file.write_bytes(body)
            conn.execute(f"INSERT INTO customers {rel}")
            more, cont = _HAS_MORE.search(body), _CONTINUE_FROM.search(body)
            if more is None or more[1] == b"false":
                conn.execute("COMMIT")
                total = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
                conn.close()
                return total
            params = {"from": cont[1].decode()}
