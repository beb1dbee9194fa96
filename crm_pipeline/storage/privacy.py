"""Files holding customers' records are readable by their owner only, or by one group of analysts.

The raw tables hold names, phones, e-mails and addresses. The DuckDB file, its WAL, DuckDB's spill
folder (`<file>.tmp`), the read-only copy and whatever else the process writes while it works on them
(Dagster's logs quoting records, for one) are created 0600 in 0700 folders; with `CRM_DATA_GROUP` set
to a group, 0640 in 0750 folders of that group (the folder's setgid bit hands the group to new files).

DuckDB creates the WAL and spill files itself, again after every checkpoint, with the process's umask:
so `secure_database` narrows the umask of the process (077, or 027 with a group) before the file is
opened, then tightens what already exists (files of an older version, created 0644). Folders that exist
already and are not the data folder of a file created here are left alone: `/tmp` is not ours to close.

Dagster's run storage under `$DAGSTER_HOME` (event logs, whose check metadata quotes quarantined values;
compute logs) is written by the webserver and daemon too: its `storage`, `logs` and `history` folders are
tightened the same way once per process (`secure_dagster_home`).
"""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GROUP_SETTING = "CRM_DATA_GROUP"
DAGSTER_RECORD_FOLDERS = ("storage", "logs", "history")  # under $DAGSTER_HOME: run storage, compute logs
DUCKDB_COMPANIONS = (".wal", ".tmp")  # DuckDB's write-ahead log and spill folder beside the file


class PrivacySettingError(ValueError):
    """CRM_DATA_GROUP names a group this machine does not have."""


@dataclass(frozen=True)
class Access:
    """Who may read the data: the owner only (`gid` None), or the owner and one group."""

    gid: int | None = None

    @property
    def file_mode(self) -> int:
        return 0o640 if self.gid is not None else 0o600

    @property
    def folder_mode(self) -> int:
        return 0o2750 if self.gid is not None else 0o700

    @property
    def umask(self) -> int:
        return 0o027 if self.gid is not None else 0o077

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Access:
        """CRM_DATA_GROUP: a group name or number; unset or empty: owner only."""
        name = (env.get(GROUP_SETTING) or "").strip()
        if not name:
            return cls()
        try:
            return cls(grp.getgrnam(name).gr_gid if not name.isdigit() else grp.getgrgid(int(name)).gr_gid)
        except KeyError:
            raise PrivacySettingError(
                f"{GROUP_SETTING}={name!r}: no such group on this machine (see "
                "`getent group`); unset it to keep the data readable by its owner only."
            ) from None


def _restrict(path: Path, mode: int, access: Access) -> None:
    if access.gid is not None and path.stat().st_gid != access.gid:
        os.chown(path, -1, access.gid)
    if stat.S_IMODE(path.stat().st_mode) != mode:
        os.chmod(path, mode)


def private_folder(folder: str | os.PathLike, access: Access) -> Path:
    """Create `folder` (and its missing parents) private; folders that exist are left as they are."""
    folder = Path(folder)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for created in reversed(missing):
        created.mkdir(mode=0o700)
        _restrict(created, access.folder_mode, access)
    return folder


def private_file(path: str | os.PathLike, access: Access) -> None:
    """Tighten one file (or DuckDB's spill folder) that holds records, if it exists."""
    path = Path(path)
    if path.is_dir():
        _restrict(path, access.folder_mode, access)
    elif path.exists():
        _restrict(path, access.file_mode, access)


def private_tree(folder: str | os.PathLike, access: Access) -> None:
    """Tighten an existing folder and everything in it (folders and files)."""
    for root, _folders, files in os.walk(folder):
        private_file(root, access)
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                private_file(os.path.join(root, name), access)


_dagster_home_done: set[str] = set()


def secure_dagster_home(access: Access, home: str | None) -> None:
    """Tighten the record-holding folders of `home` ($DAGSTER_HOME), once per process and home."""
    if not home or home in _dagster_home_done:
        return
    _dagster_home_done.add(home)
    for name in DAGSTER_RECORD_FOLDERS:
        if os.path.isdir(os.path.join(home, name)):
            private_tree(os.path.join(home, name), access)


def secure_database(database: str, access: Access, *, dagster_home: str | None = None) -> Access:
    """Call before opening `database`: its folder created private, the process's umask narrowed (for
    the WAL and spill files DuckDB creates later), the file and companions that exist tightened, and
    the record-holding folders of `dagster_home` too."""
    if database == ":memory:" or database.startswith("md:"):
        return access
    os.umask(access.umask)
    secure_dagster_home(access, dagster_home)
    path = Path(database)
    private_folder(path.parent, access)
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in DUCKDB_COMPANIONS)):
        private_file(candidate, access)
    return access
