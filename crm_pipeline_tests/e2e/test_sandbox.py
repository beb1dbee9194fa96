"""The ServiceTitan sandbox, exercised over real HTTP with httpx."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from crm_pipeline.schemas.declared import spec_fields
from crm_pipeline_tests.sandbox import FEEDS, Sandbox


@pytest.fixture
def sb():
    with Sandbox(seed=7, sizes={"customers": 120}, page_size=25) as sandbox:
        yield sandbox


def ask_token(sb: Sandbox, secret: str | None = None) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": sb.client_id,
        "client_secret": secret or sb.client_secret,
    }
    return httpx.post(sb.auth_url, data=form)


def token(sb: Sandbox) -> str:
    return ask_token(sb).json()["access_token"]


@pytest.fixture
def api(sb):
    headers = {"Authorization": f"Bearer {token(sb)}", "ST-App-Key": sb.app_key}
    with httpx.Client(base_url=f"{sb.api_url}/crm/v2/tenant/{sb.tenant_id}/", headers=headers) as client:
        yield client


def pull(api: httpx.Client, feed: str, start: str | None = None, recent: bool = False):
    """Page a feed to its end: (records in order served, final continueFrom, pages)."""
    rows, cont, pages = [], start, 0
    while True:
        params = {"includeRecentChanges": str(recent).lower(), **({"from": cont} if cont else {})}
        page = api.get(feed, params=params).raise_for_status().json()
        assert set(page) == {"hasMore", "continueFrom", "data"} and page["continueFrom"]
        rows, cont, pages = rows + page["data"], page["continueFrom"], pages + 1
        if not page["hasMore"]:
            return rows, cont, pages


def test_token_flow_and_rejections(sb, api):
    ok = ask_token(sb).json()
    assert ok["token_type"] == "Bearer" and ok["expires_in"] == 900 and ok["access_token"]
    bad = ask_token(sb, secret="wrong")
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}
    assert sb.token_requests == 3  # the api fixture's, ok, bad
    assert set(sb.env()) >= {"SERVICETITAN_CLIENT_ID", "SERVICETITAN_API_URL", "SERVICETITAN_AUTH_URL"}

    def call(headers, tenant=sb.tenant_id):
        return httpx.get(f"{sb.api_url}/crm/v2/tenant/{tenant}/export/customers", headers=headers)

    good = {"Authorization": f"Bearer {ok['access_token']}", "ST-App-Key": sb.app_key}
    assert call(good).status_code == 200
    for headers, status, title in [
        ({"ST-App-Key": sb.app_key}, 401, "Unauthorized"),
        ({**good, "Authorization": "Bearer nope"}, 401, "Unauthorized"),
        ({**good, "ST-App-Key": "wrong"}, 403, "app key is not valid"),
        ({"Authorization": good["Authorization"]}, 403, "app key is not valid"),
    ]:
        r = call(headers)
        assert r.status_code == status and title in r.json()["title"]
        assert r.headers["content-type"].startswith("application/problem+json")
        assert {"type", "title", "status", "traceId", "errors", "data"} <= set(r.json())
    assert call(good, tenant="999").json()["title"] == "Tenant not found"
    sb.expire_tokens()
    assert call(good).status_code == 401 and api.get("export/leads").status_code == 401
    sb.token_ttl = 0.5
    short = {**good, "Authorization": f"Bearer {token(sb)}"}
    assert call(short).status_code == 200
    time.sleep(0.6)
    assert call(short).status_code == 401


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_paging_to_the_end_yields_exactly_the_records(sb, api, feed):
    rows, cont, pages = pull(api, feed)
    expected = sb.records(feed)
    assert sorted(rows, key=lambda r: r["id"]) == expected and len({r["id"] for r in rows}) == len(rows)
    assert pages == -(-len(expected) // sb.page_size)
    assert all(set(r) - {"legacyId", "importBatch"} == set(spec_fields()[feed]) for r in rows)
    again = api.get(feed, params={"from": cont}).json()
    assert again == {"hasMore": False, "continueFrom": cont, "data": []}


def test_change_and_add_then_resume_from_stored_position(sb, api):
    _, cont, _ = pull(api, "export/customers")
    changed, added = sb.change("export/customers", n=10), sb.add("export/customers", n=5)
    assert len(set(changed)) == 10 and len(added) == 5
    rows, _, _ = pull(api, "export/customers", start=cont)
    assert sorted(r["id"] for r in rows) == sorted(changed + added)
    current = {r["id"]: r for r in sb.records("export/customers")}
    assert all(current[r["id"]] == r for r in rows) and len(current) == 125
    stamps = [r["modifiedOn"][:19] for r in rows]
    assert stamps == sorted(stamps)


def test_recent_changes_repeat_records_but_finish(sb, api):
    sb.page_size = 10
    rows, cont, pages = pull(api, "export/leads", recent=True)
    latest = {r["id"]: r for r in rows}
    assert len(rows) > len(latest) and sorted(latest.values(), key=lambda r: r["id"]) == sb.records(
        "export/leads"
    )
    assert api.get("export/leads", params={"from": cont}).json()["data"] == []


def test_from_a_date(sb, api):
    everything = sb.records("export/locations")
    day = sorted(r["modifiedOn"] for r in everything)[len(everything) // 2][:10]
    for start in (day, f"{day}T00:00:00Z", f"{day}T00:00:00.0000000"):
        rows, _, _ = pull(api, "export/locations", start=start)
        assert sorted(r["id"] for r in rows) == [r["id"] for r in everything if r["modifiedOn"][:10] >= day]


def test_invalid_or_foreign_continuation_token(sb, api):
    with Sandbox(seed=8, sizes={"customers": 5}) as other:
        foreign_api = httpx.Client(
            base_url=f"{other.api_url}/crm/v2/tenant/{other.tenant_id}/",
            headers={"Authorization": f"Bearer {token(other)}", "ST-App-Key": other.app_key},
        )
        foreign = foreign_api.get("export/customers").json()["continueFrom"]
    other_feed = api.get("export/leads").json()["continueFrom"]
    for bad in ("garbage!!", foreign, other_feed, "2024-13-45"):
        r = api.get("export/customers", params={"from": bad})
        assert (
            r.status_code == 400
            and r.json()["title"] == "Invalid continuation token"
            and "from" in r.json()["errors"]
        )
    assert api.get("export/customers", params={"includeRecentChanges": "maybe"}).status_code == 400


def test_each_fault_kind_is_observable(sb, api):
    feed = "export/customers"
    sb.faults.add("429", count=2, path_contains="export/customers", retry_after=2)
    assert api.get("export/leads").status_code == 200  # not matching the path: served
    for _ in range(2):
        r = api.get(feed)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2" and r.json()["status"] == 429
    sb.faults.add("500")
    assert api.get(feed).json()["title"] == "Internal Server Error"
    for status in ("502", "503", "504"):
        sb.faults.add(status)
        r = api.get(feed)
        assert r.status_code == int(status) and pytest.raises(ValueError, r.json)
    for kind in ("reset", "truncate"):
        sb.faults.add(kind)
        with pytest.raises(httpx.TransportError):
            api.get(feed)
    sb.faults.add("badjson")
    r = api.get(feed)
    assert (
        r.status_code == 200
        and len(r.content) == int(r.headers["content-length"])
        and pytest.raises(ValueError, r.json)
    )
    sb.faults.add("slow", delay=0.3)
    started = time.monotonic()
    assert api.get(feed).status_code == 200 and time.monotonic() - started >= 0.3
    faults = [e.fault for e in sb.request_log if e.fault]
    assert faults == ["429", "429", "500", "502", "503", "504", "reset", "truncate", "badjson", "slow"]
    assert api.get(feed).status_code == 200  # all used up


def test_random_fault_rates_spare_the_token_endpoint(sb, api):
    sb.faults.set_rates({"500": 0.5, "503": 0.2}, seed=1)
    assert {200, 500, 503} <= {api.get("export/bookings").status_code for _ in range(40)}
    assert all(token(sb) for _ in range(5))
    sb.faults.clear()
    assert {api.get("export/bookings").status_code for _ in range(10)} == {200}


def test_rate_limit(sb, api):
    sb.rate_limit = 2
    limited = [r for r in (api.get("export/customers") for _ in range(12)) if r.status_code == 429]
    assert len(limited) >= 5 and all(r.headers["Retry-After"] == "1" for r in limited)
    assert [e.fault for e in sb.request_log if e.status == 429][0] == "rate_limit"
    time.sleep(1.0)
    assert api.get("export/customers").status_code == 200
    sb.rate_limit = None
    assert {api.get("export/customers").status_code for _ in range(20)} == {200}


def test_data_is_messy_and_deterministic(sb):
    customers = sb.records("export/customers")
    ids = {c["id"] for c in customers}
    assert min(ids) > 2**31 and min(r["id"] for r in sb.records("export/customers/contacts")) > 2**31
    assert any(not c["active"] for c in customers)
    texts = json.dumps(customers, ensure_ascii=False)
    assert any(ch in texts for ch in "🔥🙂🏠") and "\\n" in texts and '\\"' in texts and "\\\\" in texts
    assert all(isinstance(c["address"]["zip"], (str, type(None))) for c in customers)
    stamps = [c["modifiedOn"] for c in customers]
    assert any(len(s) == 28 for s in stamps) and any(len(s) == 20 for s in stamps)
    assert {c["customerId"] for c in sb.records("export/customers/contacts")} <= ids
    assert {loc["customerId"] for loc in sb.records("export/locations")} <= ids
    with (
        Sandbox(seed=7, sizes={"customers": 120}) as twin,
        Sandbox(seed=8, sizes={"customers": 120}) as other,
    ):
        assert twin.records("export/leads") == sb.records("export/leads") != other.records("export/leads")
    sb.change("export/customers", n=100)
    merged = [c for c in sb.records("export/customers") if c["mergedToId"] is not None]
    assert merged and all(not c["active"] for c in merged)
    assert {c["mergedToId"] for c in merged} <= ids


def test_put_serves_raw_records_as_is(sb, api):
    _, cont, _ = pull(api, "export/customers")
    raw = {
        "id": 4100000003,
        "name": 42,
        "surprise": {"nested": [1, None]},
        "modifiedOn": "2024-06-20T17:47:05",
    }
    sb.put("export/customers", raw)
    rows, _, _ = pull(api, "export/customers", start=cont)
    assert rows == [raw] and raw in sb.records("export/customers")


def test_admin_endpoints_and_keep_alive(sb, api):
    assert (
        len(
            httpx.post(f"{sb.api_url}/_sandbox/change", json={"feed": "export/bookings", "n": 3}).json()[
                "ids"
            ]
        )
        == 3
    )
    assert (
        len(httpx.post(f"{sb.api_url}/_sandbox/add", json={"feed": "export/bookings", "n": 2}).json()["ids"])
        == 2
    )
    assert httpx.get(
        f"{sb.api_url}/_sandbox/records", params={"feed": "export/bookings"}
    ).json() == sb.records("export/bookings")
    httpx.post(f"{sb.api_url}/_sandbox/faults", json={"add": {"kind": "503", "count": 1}}).raise_for_status()
    assert api.get("export/bookings").status_code == 503
    conn = http.client.HTTPConnection("127.0.0.1", sb.port)
    for _ in range(3):  # one connection, several answers
        conn.request("GET", f"/crm/v2/tenant/{sb.tenant_id}/export/bookings", headers=dict(api.headers))
        assert conn.getresponse().read() and conn.sock is not None


def test_cli_serves_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm_pipeline_tests.sandbox", "--port", "0", "--customers", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    try:
        env = dict(proc.stdout.readline().strip().removeprefix("export ").split("=", 1) for _ in range(6))
        form = {
            "grant_type": "client_credentials",
            **{k: env[f"SERVICETITAN_{k.upper()}"] for k in ("client_id", "client_secret")},
        }
        assert httpx.post(env["SERVICETITAN_AUTH_URL"], data=form).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
