"""Read `dbt_like_sql/`: one model per `.sql` file, its header, its refs and sources, its data tests.

A model file starts with a header of `-- key: value` comment lines (see dbt_like_sql/README.md),
then holds one SELECT. `{{ ref('model') }}` and `{{ source('schema', 'table') }}` are its dependencies.
Compiling replaces them in place, so a line of the compiled SQL is the same line of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

# The package's link to the checkout's dbt_like_sql/, a folder of its own in an installed wheel.
PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"
MODEL_FOLDERS = ("staging", "marts")  # folder = DuckDB schema = asset key prefix = group
MATERIALIZATIONS = ("view", "table")
HEADER_KEYS = ("description", "materialized", "unique", "not_null", "severity", "columns")

_HEADER = re.compile(r"^--\s*([a-z_]+):\s*(.*)$")
_COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_REF = re.compile(r"\{\{[ \t]*ref\([ \t]*'(\w+)'[ \t]*\)[ \t]*\}\}")
_SOURCE = re.compile(r"\{\{[ \t]*source\([ \t]*'(\w+)'[ \t]*,[ \t]*'(\w+)'[ \t]*\)[ \t]*\}\}")


class SqlModelError(Exception):
    """A model or test that fails to load, compile or run; the message starts with `file:line:`."""


@dataclass
class SqlFile:
    """A `.sql` file of the project: a model (folder `staging` or `marts`) or a data test (`tests`)."""

    path: Path
    sql: str
    header: dict[str, str]
    tests: list[SqlFile] = field(default_factory=list)  # a model's data tests
    shared_docs: dict[str, str] = field(default_factory=dict)  # the project's columns.txt

    name = property(lambda self: self.path.stem)
    schema = property(lambda self: self.path.parent.name)  # DuckDB schema, asset key prefix, group
    where = property(lambda self: "/".join(self.path.parts[-3:]), doc="`dbt_like_sql/<folder>/<file>.sql`")
    relation = property(lambda self: f"{self.schema}.{self.name}")
    description = property(lambda self: self.header.get("description", ""))
    materialized = property(lambda self: self.header.get("materialized", "view").lower())
    severity = property(lambda self: self.header.get("severity", "error").lower())
    model = property(lambda self: self.name.split("__")[0], doc="a data test's model")
    check_name = property(lambda self: self.name.split("__", 1)[-1], doc="a data test's check")
    refs = property(lambda self: sorted(set(_REF.findall(self.sql))))
    sources = property(lambda self: sorted(set(_SOURCE.findall(self.sql))))

    @property
    def unique(self) -> list[list[str]]:
        """Keys that must be unique: `-- unique: a, b` (several keys: `a, b; c`)."""
        return [_columns(key) for key in self.header.get("unique", "").split(";") if key.strip()]

    @property
    def column_docs(self) -> dict[str, str]:
        """What each column means: the project's shared `columns.txt`, overridden by the header's
        `-- columns:` then one `--   name: description` line per column (a line without `name:`
        continues the description above)."""
        docs: dict[str, str] = {}
        for line in self.header.get("columns", "").splitlines():
            name, sep, text = line.partition(":")
            if sep and _COLUMN_NAME.fullmatch(name.strip()):
                docs[name.strip()] = text.strip()
            elif docs and line.strip():
                last = next(reversed(docs))
                docs[last] += " " + line.strip()
        return {**self.shared_docs, **docs}

    @property
    def not_null(self) -> list[str]:
        return _columns(self.header.get("not_null", ""))

    def error(self, message: str, line: int | None = None) -> SqlModelError:
        return SqlModelError(f"{self.where}:{line or 1}: {message}")


Model = DataTest = SqlFile  # names for readers: a model file, a data test file


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def read_file(path: Path) -> SqlFile:
    """Read a `.sql` file and its header: leading `-- key: value` lines, indented lines continuing a value."""
    sql = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    key = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        match = _HEADER.match(line)
        if match and match.group(1) in HEADER_KEYS:
            key, header[match.group(1)] = match.group(1), match.group(2).strip()
        elif key:
            header[key] += ("\n" if key == "columns" else " ") + line.lstrip("-").strip()
    item = SqlFile(path, sql, header)
    if not item.description:
        raise item.error("header lacks '-- description: ...'")
    return item


def shared_column_docs(project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """`columns.txt`: `name: description` lines for columns that mean the same in every model."""
    path = project_dir / "columns.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    pairs = (line.partition(":") for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): text.strip() for name, _, text in pairs}


def load_project(*project_dirs: Path) -> dict[str, Model]:
    """All models of the projects (none given: `dbt_like_sql/`) by name, each with its data tests, in
    dependency order. One namespace: a later project's model may ref an earlier one's, a name may be
    used once, and a later project's `columns.txt` adds to (and overrides) an earlier one's."""
    models: dict[str, Model] = {}
    shared: dict[str, str] = {}
    for project_dir in project_dirs or (PROJECT_DIR,):
        shared = {**shared, **shared_column_docs(project_dir)}
        for folder in MODEL_FOLDERS:
            for path in sorted((project_dir / folder).glob("*.sql")):
                models[path.stem] = _read_model(path, models, shared)
    for project_dir in project_dirs or (PROJECT_DIR,):
        for path in sorted((project_dir / "tests").glob("*.sql")):
            test = read_file(path)
            if "__" not in test.name or test.model not in models:
                raise test.error("a data test is named tests/<model>__<check>.sql after an existing model")
            models[test.model].tests.append(test)
    for item in [*models.values(), *(t for m in models.values() for t in m.tests)]:
        compile_sql(item, models)  # unknown refs and stray {{ }} fail at load time, naming file and line
    return {name: models[name] for name in build_order(models)}


def _read_model(path: Path, models: dict[str, Model], shared_docs: dict[str, str]) -> Model:
    """The model file at `path`, refused if its name is taken in `models` or its materialization unknown."""
    model = read_file(path)
    if model.name in models:
        raise model.error(f"model name {model.name!r} is also {models[model.name].where}")
    if model.materialized not in MATERIALIZATIONS:
        raise model.error(f"materialized must be one of {MATERIALIZATIONS}, not {model.materialized!r}")
    model.shared_docs = shared_docs
    return model


def build_order(models: dict[str, Model]) -> list[str]:
    """Model names, every model after the models it refs."""
    try:
        return list(TopologicalSorter({m.name: m.refs for m in models.values()}).static_order())
    except CycleError as exc:
        raise SqlModelError(
            f"dbt_like_sql: models ref each other in a cycle: {' -> '.join(exc.args[1])}"
        ) from exc


def compile_sql(item: SqlFile, models: dict[str, Model]) -> str:
    """The file's SQL with refs and sources replaced by relation names; line numbers unchanged."""
    lines = []
    for number, line in enumerate(item.sql.splitlines(keepends=True), start=1):
        for name in _REF.findall(line):
            if name not in models:
                raise item.error(f"ref('{name}'): no model {name}.sql in staging/ or marts/", number)
        line = _REF.sub(lambda m: models[m.group(1)].relation, line)
        line = _SOURCE.sub(lambda m: f"{m.group(1)}.{m.group(2)}", line)
        if "{{" in line:
            raise item.error(
                "unknown template expression (only {{ ref('m') }} and {{ source('s', 't') }})", number
            )
        lines.append(line)
    return "".join(lines).rstrip().removesuffix(";")
