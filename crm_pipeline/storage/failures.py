"""DuckDB's errors about the file itself, translated into messages that say what happened and what to do.

- The disk filling up: DuckDB fails the commit ("Could not write file ...: No space left on device") and
  rolls the transaction back. A page's rows and its position commit together, so nothing committed is
  lost and the next run, with space again, resumes from the last committed page.
- A file that is not a DuckDB file, or one written by a newer DuckDB (a storage version this one cannot
  read): opening it fails; the message says which, and that the pipeline did not touch it.

`translated_duckdb_errors(database)` wraps where the file is opened and where commits happen; `translate`
does the mapping for callers that catch errors themselves.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

_NAMED_FILE = re.compile(r'file "([^"]+)"')


class StorageFailure(RuntimeError):
    """The DuckDB file (or its disk) cannot be used; the message names the file and what to do."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class DiskFull(StorageFailure):
    """No space left on the disk of the DuckDB file (or its WAL, spill folder or copy)."""


class NotADuckDBFile(StorageFailure):
    """The file at CRM_DUCKDB_PATH exists but is not a DuckDB database."""


class NewerDuckDBFile(StorageFailure):
    """The file was written by a newer DuckDB than the one installed."""


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(error, duckdb.Error) and (
        "No space left on device" in str(error) or "Disk quota" in str(error)
    )


def translate(error: BaseException, database: str) -> BaseException:
    """The StorageFailure that explains `error` on `database`; `error` itself when it is something else."""
    if isinstance(error, StorageFailure):
        return error
    text = " ".join(str(error).split())
    named = _NAMED_FILE.search(str(error))
    path = named.group(1) if named else getattr(error, "filename", None) or database
    if _is_disk_full(error):
        return DiskFull(
            f"No space left on the disk of {path} (DuckDB file {database}): {text}. "
            "The transaction in progress was rolled back, so nothing committed is lost. "
            f"Free space on that disk (`df -h {Path(path).parent}`) and run again: "
            "the load resumes from the last committed page.",
            path=path,
        )
    if isinstance(error, duckdb.Error) and "not a valid DuckDB database file" in text:
        return NotADuckDBFile(
            f"{database} exists but is not a DuckDB database file ({text}). The pipeline left it untouched: "
            "point CRM_DUCKDB_PATH at another file, or move this one away to start a new database.",
            path=database,
        )
    if isinstance(error, duckdb.Error) and ("newer version of DuckDB" in text or "storage version" in text):
        return NewerDuckDBFile(
            f"{database} was written by a newer DuckDB than the one installed here "
            f"(duckdb {duckdb.__version__}): {text} Upgrade DuckDB in this environment "
            "(pip install -U duckdb), or point CRM_DUCKDB_PATH at another file. "
            "The pipeline left it untouched.",
            path=database,
        )
    return error


@contextmanager
def translated_duckdb_errors(database: str) -> Iterator[None]:
    """Raise the StorageFailure explaining a DuckDB or OS error of the block, chained to the original."""
    try:
        yield
    except (duckdb.Error, OSError) as error:
        better = translate(error, database)
        if better is error:
            raise
        raise better from error
