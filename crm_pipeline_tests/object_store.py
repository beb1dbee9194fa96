"""An S3-compatible server on loopback (moto's, extra `test`), started by the tests themselves, and a
DuckLake whose data lives in one of its buckets."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crm_pipeline_tests.lake_helpers import Lake, admin_connection

KEY_ID, SECRET = "crm-test-key", "crm-test-secret-value"


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str

    def env(self, **overrides: str) -> dict[str, str]:
        """The standard AWS variables for this store."""
        return {
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            **overrides,
        }

    def create_bucket(self) -> str:
        name = f"lake-{uuid.uuid4().hex[:10]}"
        httpx.put(f"{self.endpoint}/{name}").raise_for_status()  # moto accepts unsigned requests
        return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[ObjectStore]:
    """moto's S3 server on a free loopback port, while the block runs (the tests, scripts/benchmark.py)."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    message = "moto_server did not start (pip install 'crm-pipeline[test]')"
                    raise RuntimeError(message) from None
                time.sleep(0.1)
        yield ObjectStore(endpoint)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def object_store():
    with moto_server() as store:
        yield store


@pytest.fixture
def s3_lake(object_store, monkeypatch):
    """A fresh DuckLake (catalog on CRM_TEST_POSTGRES) whose data path is a new bucket of the store; the
    AWS variables are exported, as a deployment sets them."""
    configured = os.environ.get("CRM_TEST_POSTGRES")
    if not configured:
        pytest.skip("no PostgreSQL for the lake tests (CRM_TEST_POSTGRES)")
    for name, value in object_store.env().items():
        monkeypatch.setenv(name, value)
    server = re.sub(r"\bdbname=\S+", "", configured).strip()
    name = f"crm_lake_{uuid.uuid4().hex[:12]}"
    with closing(admin_connection(server)) as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    target = Lake(server=server, database=name, data_path=f"s3://{object_store.create_bucket()}/data/")
    target.connect().close()
    yield target
    with closing(admin_connection(server)) as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
