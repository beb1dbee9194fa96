"""The ServiceTitan component in someone else's project: `create-dagster project` in a temp folder,
crm-pipeline installed into it, `dg list components`, `dg scaffold defs` (with a team's own SQL model beside
ours), `dg check defs`, `dg list defs`, and `dg launch` of the export feeds against the sandbox, stored rows
compared with what it serves."""

from __future__ import annotations

import json
import os
import site
import subprocess
import venv
from pathlib import Path

import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline_tests.faults import assert_exact
from crm_pipeline_tests.unit.test_component_sql_models import TEAM_FILES, write_folder

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = "crm_pipeline.components.ServiceTitanComponent"


def _run(command: list[str], *, cwd: Path, env: dict | None = None, timeout: float = 240) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _make_venv(folder: Path) -> Path:
    """A venv that sees this environment's packages (dagster and the rest, already installed: fast and
    offline) through a .pth file; what it installs itself comes first."""
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    own = _run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], cwd=folder).strip()
    Path(own, "shared_with_tests.pth").write_text(site.getsitepackages()[0] + "\n")
    return python


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project made by create-dagster with crm-pipeline (this checkout, built as a wheel) installed."""
    base = tmp_path_factory.mktemp("dg_project")
    tools = _make_venv(base / "tools")
    _run([str(tools), "-m", "pip", "install", "-q", "create-dagster==1.13.*"], cwd=base)
    _run([str(base / "tools/bin/create-dagster"), "project", "--no-uv-sync", "myproj"], cwd=base)
    folder = base / "myproj"
    python = _make_venv(folder / ".venv")
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", "."], cwd=folder)
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)], cwd=folder)
    Path(folder / ".venv/bin/dg").write_text(
        f"#!{python}\nimport sys\nfrom dagster_dg_cli.cli import main\nsys.exit(main())\n"
    )
    os.chmod(folder / ".venv/bin/dg", 0o755)
    return folder


def _dg(project: Path, *args: str, env: dict | None = None) -> str:
    base = {**(env or os.environ), "VIRTUAL_ENV": str(project / ".venv")}
    base["PATH"] = f"{project / '.venv/bin'}:{base['PATH']}"
    return _run([str(project / ".venv/bin/dg"), *args], cwd=project, env=base)


def test_the_component_scaffolds_checks_lists_and_loads_the_feeds(project, sandbox, settings, tmp_path):
    assert COMPONENT in _dg(project, "list", "components", "--json")
    _dg(project, "scaffold", "defs", COMPONENT, "servicetitan")
    folder = project / "src/myproj/defs/servicetitan"
    yaml = (folder / "defs.yaml").read_text()
    assert "{{ env.CRM_DUCKDB_PATH }}" in yaml and "SECRET" not in yaml
    # the team's own model, on ours (which ship in the wheel) and on a raw table
    (folder / "defs.yaml").write_text(yaml.rstrip() + "\n  sql_models_path: team_sql\n")
    write_folder(folder / "team_sql", TEAM_FILES)
    env = {**os.environ, **sandbox.env(), "CRM_DUCKDB_PATH": settings.duckdb_path}
    env["DAGSTER_HOME"] = str(tmp_path / "home")
    os.makedirs(env["DAGSTER_HOME"])
    _dg(project, "check", "defs", env=env)
    keys = [a["asset_key"] for a in json.loads(_dg(project, "list", "defs", "--json", env=env))["assets"]]
    assert sorted(k for k in keys if k.startswith("raw_export/")) == sorted(
        f"raw_export/{ep.table}" for ep in EXPORT_FEEDS
    )
    assert len([k for k in keys if k.startswith("raw_list/")]) == len(LIST_ENDPOINTS) == 19
    assert {"staging/stg_customers", "marts/customers_overview", "marts/team_customers"} <= set(keys)
    _dg(project, "launch", "--assets", "group:servicetitan_export", env=env)
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        assert_exact(conn, sandbox, settings.tenant_id, EXPORT_FEEDS)
