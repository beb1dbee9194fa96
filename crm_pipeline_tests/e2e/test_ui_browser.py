"""The Dagster UI as a data engineer sees it: the real `dagster-webserver` on the project, in a real
headless browser (Debian's chromium through Selenium and Debian's chromedriver).

One export asset is materialized first with the `dagster` CLI (against the sandbox API), so its page
has a materialization to show. Screenshots of both pages are kept in `artifacts/ui/` at the repo root.
Without chromium the test is skipped, except in CI (`CI` set), where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.defs.servicetitan.metadata import column_schema
from crm_pipeline_tests.browser import (
    browser_missing,
    chromium,
    dagster_webserver,
    in_ci,
    page_text,
    severe_console_errors,
    venv_bin,
    wait_until,
)
from crm_pipeline_tests.conftest import SMALL
from crm_pipeline_tests.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "ui"
LOCATION = "crm_pipeline.definitions"
EXPORT_GROUP = "servicetitan_export"
CUSTOMERS = EXPORT_FEEDS[0]  # raw_export/customers, the asset materialized before the browser opens
ASSET_KEY = "/".join(CUSTOMERS.asset_key_path)
# What Dagster's UI shows when a page breaks: its error boundary, GraphQL error toasts, load errors.
ERROR_MARKERS = (
    "Something went wrong",
    "Unexpected GraphQL error",
    "An unexpected error occurred",
    "Error loading",
    "Unable to load",
    "PythonError",
    "Traceback (most recent call last)",
    "Asset not found",
)
# One iteration, on the instance, of the daemon that evaluates FreshnessPolicy (`dagster dev`: every 30 s).
EVALUATE_FRESHNESS = """
from dagster import DagsterInstance
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.freshness import FreshnessDaemon
with DagsterInstance.get() as instance, create_test_daemon_workspace_context(
        ModuleTarget("crm_pipeline.definitions", None, None, None), instance) as context:
    list(FreshnessDaemon().run_iteration(context))
"""
WAIT = 90  # seconds for a page to settle on a slow 2-core machine; explicit conditions, polled

_MISSING = browser_missing()
pytestmark = [
    pytest.mark.skipif(
        _MISSING is not None and not in_ci(), reason=f"no browser for the UI test: {_MISSING}"
    ),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """(base URL, browser, sandbox): the webserver on a throwaway instance where raw_export/customers
    has been materialized from the sandbox; automation off so no sensor or schedule calls anything."""
    if _MISSING:  # only reached in CI: a missing browser there is a failure, not a skip
        pytest.fail(f"CI is set but the UI test cannot run: {_MISSING}")
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with open(home / "dagster.yaml", "a") as config:  # no telemetry script from dagster.io (closed network)
        config.write("\ntelemetry:\n  enabled: false\n")
    (
        home / ".nux"
    ).mkdir()  # the "Join the Dagster community" dialog was already seen: it would cover the page
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with Sandbox(seed=11, sizes=SMALL, page_size=40) as sandbox:
        env = {
            **os.environ,
            **sandbox.env(),
            "DAGSTER_HOME": str(home),
            "CRM_DUCKDB_PATH": str(tmp / "crm.duckdb"),
            "CRM_AUTOMATION": "off",
        }
        done = subprocess.run(
            [venv_bin("dagster"), "asset", "materialize", "-m", LOCATION, "--select", ASSET_KEY],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        evaluated = subprocess.run(
            [venv_bin("python"), "-c", EVALUATE_FRESHNESS],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
        log = ARTIFACTS / "dagster-webserver.log"
        with dagster_webserver(env, log, cwd=tmp) as url, chromium(tmp / "chromium-profile") as browser:
            browser.set_window_size(1600, 2000)  # tall enough for the whole export group at 100 %
            yield url, browser, sandbox


def open_page(browser, url: str) -> None:
    browser.get(url)
    wait_until(
        browser, lambda d: d.execute_script("return document.readyState") == "complete", WAIT, "page load"
    )


def shoot(browser, name: str) -> Path:
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def assert_no_errors(browser) -> None:
    text = page_text(browser)
    shown = [marker for marker in ERROR_MARKERS if marker in text]
    assert not shown, f"the page shows {shown}:\n{text[:3000]}"
    errors = severe_console_errors(browser)
    assert not errors, f"the browser console shows errors: {errors}"


def graph_nodes(browser) -> dict[str, str]:
    """{asset name: the node's text} for every asset node the lineage graph has drawn."""
    return browser.execute_script("""
        const nodes = {};
        for (const name of document.querySelectorAll('svg foreignObject [data-tooltip]')) {
            const node = name.closest('foreignObject');
            nodes[name.getAttribute('data-tooltip')] = (node.textContent || '').replace(/\\s+/g, ' ');
        }
        return nodes;
    """)


def table_rows(browser, first_header: str) -> dict[str, list[str]]:
    """{first cell: the row's cells} of the page's tables whose first column is headed `first_header`
    ("Key": the latest materialization's metadata; "Column name": the column schema)."""
    return browser.execute_script(
        """
        const rows = {};
        for (const table of document.querySelectorAll('table')) {
            const [head, ...body] = Array.from(table.rows).map(
                tr => Array.from(tr.cells).map(cell => cell.innerText.trim()));
            if (!head || head[0] !== arguments[0]) continue;
            for (const cells of body) {
                if (cells.length >= 2 && cells[0]) rows[cells[0]] = cells;
            }
        }
        return rows;
    """,
        first_header,
    )


def metadata(browser) -> dict[str, str]:
    return {key: cells[-1] for key, cells in table_rows(browser, "Key").items()}


def test_asset_graph_draws_every_export_feed_without_errors(ui):
    url, browser, _ = ui
    expected = {ep.table for ep in EXPORT_FEEDS}
    open_page(browser, f"{url}/locations/{LOCATION}/asset-groups/{EXPORT_GROUP}")
    try:
        nodes = wait_until(
            browser,
            lambda d: (n := graph_nodes(d)) and expected <= n.keys() and n,
            WAIT,
            f"the graph nodes {sorted(expected)}",
        )
        # The materialized feed says so once its live data arrives; the others were never run.
        wait_until(
            browser,
            lambda d: (
                "Materialized" in graph_nodes(d).get(CUSTOMERS.table, "").replace("Never materialized", "")
            ),
            WAIT,
            f"{CUSTOMERS.table} shown as materialized",
        )
    finally:
        shoot(browser, "asset_graph.png")
    assert expected <= nodes.keys(), nodes.keys()
    nodes = graph_nodes(browser)
    for name in expected - {CUSTOMERS.table}:
        assert "Never materialized" in nodes[name], nodes[name]
    text = page_text(browser)
    assert EXPORT_GROUP in text and "Asset Group" in text
    assert_no_errors(browser)


def test_asset_page_shows_description_latest_metadata_and_columns(ui):
    url, browser, sandbox = ui
    served = len(sandbox.records(CUSTOMERS.path))
    columns = {c.name: c.type for c in column_schema(CUSTOMERS).columns}
    open_page(browser, f"{url}/assets/{ASSET_KEY}")
    try:
        wait_until(browser, lambda d: CUSTOMERS.description in page_text(d), WAIT, "the asset's description")
        wait_until(browser, lambda d: "rows_upserted" in metadata(d), WAIT, "the materialization's metadata")
        wait_until(
            browser, lambda d: columns.keys() <= table_rows(d, "Column name").keys(), WAIT, "the columns"
        )
        wait_until(
            browser,
            lambda d: re.search(rf"Row count\s+{served}\b", page_text(d)),
            WAIT,
            f"row count {served}",
        )
        wait_until(
            browser,
            lambda d: re.search(r"Freshness policy\s+Passing", page_text(d)),
            WAIT,
            "the freshness policy's state, evaluated by Dagster's freshness daemon",
        )
    finally:
        shoot(browser, "asset_raw_export_customers.png")
    text = page_text(browser)
    assert CUSTOMERS.qualified_table in text  # the description names the table, and so does Storage
    assert "Latest materialization" in text and "Never materialized" not in text
    assert EXPORT_GROUP in text and "servicetitan" in text and "DuckDB" in text  # group and kinds

    meta = metadata(browser)
    assert meta["rows_upserted"] == meta["records_received"] == str(served), meta
    assert meta["quarantined"] == "0" and meta["has_more"] == "false", meta
    assert int(meta["pages"]) >= 3 and meta["cursor_position"], meta

    shown = table_rows(browser, "Column name")  # {name: [name, "TYPE" (+ "non-nullable"), description]}
    assert {name: cells[1].split()[0] for name, cells in shown.items()} == columns
    assert "non-nullable" in shown["tenant_id"][1] and "non-nullable" in shown["id"][1]
    assert "non-nullable" not in shown["name"][1]
    described = {c.name: c.description for c in column_schema(CUSTOMERS).columns}
    assert {name: cells[2] for name, cells in shown.items()} == described  # from the OpenAPI description
    assert described["name"] == "Name of the customer"
    # The policy from CRM_EXPORT_INTERVAL_SECONDS (300 s): WARN after two intervals (10 min), FAIL after 20.
    text = page_text(browser)
    assert "Fails if more than 20 minutes since last materialization" in text
    assert "Warns if more than 10 minutes since last materialization" in text
    assert_no_errors(browser)
