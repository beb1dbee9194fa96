"""What a newcomer types in the project folder works with nothing else configured: `dagster` and `dg`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crm_pipeline.catalog import ENDPOINTS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVICETITAN_", "CRM_"))}
    env.update({"DAGSTER_HOME": str(tmp_path), "COLUMNS": "250", "NO_COLOR": "1"})
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def test_dagster_finds_the_code_location_from_pyproject_without_settings(tmp_path):
    done = run(str(BIN / "dagster"), "definitions", "validate", tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "crm_pipeline" in done.stdout + done.stderr


def test_dg_lists_every_raw_asset_from_pyproject(tmp_path):
    done = run(str(BIN / "dg"), "list", "defs", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    missing = [ep.asset_key_path for ep in ENDPOINTS if "/".join(ep.asset_key_path) not in done.stdout]
    assert missing == []
    assert "servicetitan_export_sensor" in done.stdout and "servicetitan_list_incremental" in done.stdout
