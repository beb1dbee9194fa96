"""Customer data stays private (#18, point 6): after a real load through Dagster, the data folder, the
DuckDB file, its WAL and the read-only copy are readable by their owner only, or by the group that
CRM_DATA_GROUP names."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from crm_pipeline.defs.resources import CrmDuckDB, secure_file
from crm_pipeline.settings import Settings
from crm_pipeline.storage.privacy import GROUP_SETTING, PrivacySettingError
from crm_pipeline_tests.list_runs import materialize_lists

LOAD = ["raw_list/customers", "raw_list/customers_notes"]


@pytest.fixture(autouse=True)
def umask_restored():
    """The loads narrow the process's umask: give the other tests theirs back."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loaded_into_new_folder(sandbox, tmp_path, instance) -> tuple[Path, Path]:
    """A Dagster run of two list assets into <tmp>/data/crm.duckdb (folder not there yet), with its copy."""
    database = tmp_path / "data" / "crm.duckdb"
    copy = tmp_path / "data" / "crm_readonly.duckdb"
    settings = Settings.from_env({**sandbox.env(), "CRM_DUCKDB_PATH": str(database)})
    os.environ["CRM_DUCKDB_PATH"] = str(database)
    result = materialize_lists(settings, instance, selection=LOAD, readonly_copy=str(copy))
    assert result.success and copy.exists()
    return database, copy


def another_group() -> grp.struct_group:
    """A group that is not the process's own, that this process may hand files to."""
    mine = os.getgid()
    allowed = [
        g for g in grp.getgrall() if g.gr_gid != mine and (os.geteuid() == 0 or g.gr_gid in os.getgroups())
    ]
    if not allowed:
        pytest.skip("no second group this user may give files to")
    return allowed[0]


def test_a_load_creates_the_folder_file_and_copy_for_the_owner_only(
    sandbox, env, instance, tmp_path, monkeypatch
):
    monkeypatch.delenv(GROUP_SETTING, raising=False)
    database, copy = loaded_into_new_folder(sandbox, tmp_path, instance)
    assert mode(database.parent) == 0o700
    everything = list(database.parent.rglob("*"))
    assert {str(p): mode(p) for p in everything} == {
        str(p): 0o700 if p.is_dir() else 0o600 for p in everything
    }
    assert mode(database) == 0o600 and mode(copy) == 0o600


def test_the_wal_written_during_a_load_is_private(sandbox, env, instance, tmp_path, monkeypatch):
    monkeypatch.delenv(GROUP_SETTING, raising=False)
    database, _ = loaded_into_new_folder(sandbox, tmp_path, instance)
    resource = CrmDuckDB(database=str(database), connection_config={"checkpoint_threshold": "1GB"})
    with resource.get_connection() as conn:
        conn.execute("CREATE TABLE wal_probe AS SELECT * FROM raw_list.customers")
        wal = Path(f"{database}.wal")
        assert wal.exists() and mode(wal) == 0o600


def test_files_of_an_older_version_are_tightened_when_opened(tmp_path, monkeypatch):
    monkeypatch.delenv(GROUP_SETTING, raising=False)
    os.chmod(tmp_path, 0o755)
    database = tmp_path / "crm.duckdb"
    database.write_bytes(b"")
    os.chmod(database, 0o644)
    secure_file(str(database))
    assert mode(database) == 0o600 and mode(tmp_path) == 0o755  # an existing folder is not ours to close


def test_a_data_group_makes_everything_group_readable(sandbox, env, instance, tmp_path, monkeypatch):
    group = another_group()
    monkeypatch.setenv(GROUP_SETTING, group.gr_name)
    database, copy = loaded_into_new_folder(sandbox, tmp_path, instance)
    assert mode(database.parent) == 0o2750 and database.parent.stat().st_gid == group.gr_gid
    for path in (database, copy):
        assert mode(path) == 0o640 and path.stat().st_gid == group.gr_gid, path


def test_an_unknown_data_group_is_refused_with_the_setting_named(tmp_path, monkeypatch):
    monkeypatch.setenv(GROUP_SETTING, "no-such-group-crm")
    with pytest.raises(PrivacySettingError, match="CRM_DATA_GROUP='no-such-group-crm'"):
        secure_file(str(tmp_path / "crm.duckdb"))


def test_dagster_run_storage_is_tightened_once_a_run_opens_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv(GROUP_SETTING, raising=False)
    home = tmp_path / "dagster_home"
    (home / "storage" / "run1").mkdir(parents=True)
    for path in (
        home / "storage" / "runs.db",
        home / "storage" / "run1" / "compute.out",
        home / "dagster.yaml",
    ):
        path.write_text("x")
        os.chmod(path, 0o644)
    for folder in (home, home / "storage", home / "storage" / "run1"):
        os.chmod(folder, 0o755)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    secure_file(str(tmp_path / "data" / "crm.duckdb"))
    assert mode(home / "storage") == 0o700 and mode(home / "storage" / "run1") == 0o700
    assert (
        mode(home / "storage" / "runs.db") == 0o600
        and mode(home / "storage" / "run1" / "compute.out") == 0o600
    )
    assert mode(home / "dagster.yaml") == 0o644 and mode(home) == 0o755  # settings, not records
