"""Two machines on one tenant (#24, point 4): the lake's catalog on a real PostgreSQL, its data on an
S3-compatible server (moto on loopback), the sandbox limiting the tenant to 60 requests/s.

Each "machine" is a process tree with its own HOME, TMPDIR, working folder and DAGSTER_HOME, and an
environment built from nothing but PATH and the deployment's settings: the two share only PostgreSQL and
the object store. Their Dagster instances keep runs and events in one database on that PostgreSQL, as
the run workers of one deployment do; the tenant's API budget is shared through the lake's catalog (the
budget database of a lake). Each machine starts `dg launch` of the export group and of the list group at
the same moment (4 runs at once) while a third process reads the lake; then the SQL models are built on
the lake. Every run must succeed with no failed step and every check passed, the 25 raw tables be exact,
at most 1% of the API's answers be 429, and the reader meet no error."""

from __future__ import annotations

import bisect
import os
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.defs.servicetitan.checks import check_specs
from crm_pipeline.sql_models import load_project, model_checks
from crm_pipeline_tests.cli_runs import RUN_TIMEOUT, finish, materialize_command, prepare_home
from crm_pipeline_tests.faults import api_log
from crm_pipeline_tests.lake_helpers import ROOT, admin_connection, assert_exact
from crm_pipeline_tests.sandbox import Sandbox

SERVER_RATE = 60.0  # the documented limit, enforced by the sandbox per tenant
GROUPS = ("group:servicetitan_export", "group:servicetitan_list")
MODELS = "group:staging or group:marts"
RAW = [*EXPORT_FEEDS, *LIST_ENDPOINTS]  # the 25 raw tables
LOCATION = ("-m", "crm_pipeline.definitions")  # dg from any folder: the installed code location


@pytest.fixture
def instance_url(s3_lake):
    """A database for the Dagster instance on the lake's PostgreSQL server: its SQLAlchemy URL."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    with closing(admin_connection(s3_lake.server)) as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    params = dict(part.split("=", 1) for part in s3_lake.server.split())
    # +psycopg2: SQLAlchemy 2.1 would pick psycopg 3 for postgresql://; dagster-postgres installs psycopg2
    yield f"postgresql+psycopg2://{params['user']}@{params['host']}:{params['port']}/{name}"
    with closing(admin_connection(s3_lake.server)) as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def machine(folder: Path, settings: dict[str, str], instance_url: str | None = None) -> dict[str, str]:
    """The environment of one machine's processes: its own folders under `folder`, the shared settings."""
    own = {name: folder / name for name in ("home", "tmp", "work", "dagster_home")}
    for path in own.values():
        path.mkdir(parents=True)
    if instance_url:
        (own["dagster_home"] / "dagster.yaml").write_text(
            f"storage:\n  postgres:\n    postgres_url: {instance_url}\ntelemetry:\n  enabled: false\n"
        )
    return {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        **settings,
        "HOME": str(own["home"]),
        "TMPDIR": str(own["tmp"]),
        "DAGSTER_HOME": str(own["dagster_home"]),
        "CRM_AUTOMATION": "off",
    }


def work(env: dict[str, str]) -> Path:
    return Path(env["HOME"]).parent / "work"


def launch(selection: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`dg launch` of `selection` in the machine's working folder, its output in `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            materialize_command(selection, *LOCATION),
            env=env,
            cwd=work(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_reader(env: dict[str, str], log: Path) -> subprocess.Popen:
    """The lake reader (lake_worker `read`) as a third machine; it queries until it is stopped."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "crm_pipeline_tests.lake_worker", "read", str(10 * RUN_TIMEOUT)],
            env={**env, "PYTHONPATH": str(ROOT)},  # the tests' package is not installed, only importable
            cwd=work(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


def stop_reader(reader: subprocess.Popen, log: Path) -> list[int]:
    """Stop the reader (still alive: it reads until told); the row totals it saw, after no error."""
    assert reader.poll() is None, "the reader ended early:\n" + log.read_text()[-3000:]
    reader.terminate()
    reader.wait(timeout=30)
    lines = log.read_text().splitlines()
    errors = [line for line in lines if not line.startswith("counts ")]
    assert errors == [], errors[:10]
    return [int(line.split()[1]) for line in lines]


def peak(answers) -> int:
    """The most answers the sandbox sent in any one second."""
    times = sorted(e.at for e in answers)
    return max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))


def declared_checks(machines: int) -> int:
    """The checks the runs must evaluate: each machine's raw tables', and the SQL models' once."""
    models = load_project()
    raw = sum(len(check_specs(endpoint)) for endpoint in RAW)
    return machines * raw + sum(len(model_checks(model, models)) for model in models.values())


def assert_runs_clean(env: dict[str, str], runs: int) -> int:
    """Every run of the shared instance succeeded, with no failed step and every declared check evaluated
    and passed; the number of check evaluations."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        records = instance.get_runs()
        assert len(records) == runs and {r.status for r in records} == {dg.DagsterRunStatus.SUCCESS}
        failed, checks = [], []
        for record in records:
            failed += instance.all_logs(record.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
            checks += [
                event.dagster_event.asset_check_evaluation_data
                for event in instance.all_logs(
                    record.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
                )
            ]
    assert failed == [], [event.step_key for event in failed]
    not_passed = [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks if not c.passed]
    assert not_passed == [] and len(checks) == declared_checks(machines=2), (not_passed, len(checks))
    return len(checks)


@pytest.mark.timeout(600)  # about 3 minutes on 2 busy cores: 5 runs of dg, each loading the code location
def test_two_machines_sharing_only_postgres_and_the_object_store(
    tmp_path, s3_lake, object_store, instance_url
):
    with Sandbox(seed=24, sizes={"customers": 40}, page_size=10, rate_limit=SERVER_RATE) as sb:
        shared = {**sb.env(), **s3_lake.env(), **object_store.env()}
        machines = [machine(tmp_path / f"machine{i}", shared, instance_url) for i in (1, 2)]
        reader_env = machine(tmp_path / "reader", shared)
        prepare_home(machines[0])  # the instance's tables, once (as a deployment's first start makes them)
        began = time.monotonic()
        started = [(env, group) for env in machines for group in GROUPS]
        logs = [tmp_path / f"machine{i}-{group.split('_')[-1]}.log" for i in (1, 2) for group in GROUPS]
        runs = [(launch(group, env, log), log) for (env, group), log in zip(started, logs, strict=True)]
        reader = start_reader(reader_env, tmp_path / "reader.log")
        for proc, log in runs:
            finish(proc, log, timeout=3 * RUN_TIMEOUT)
        elapsed = time.monotonic() - began
        totals = stop_reader(reader, tmp_path / "reader.log")
        answers = api_log(sb)
        conn = s3_lake.connect()
        assert_exact(conn, sb, RAW, sb.tenant_id)
        stored = sum(conn.execute(f"SELECT count(*) FROM {ep.qualified_table}").fetchone()[0] for ep in RAW)
        models_log = tmp_path / "models.log"
        finish(launch(MODELS, machines[1], models_log), models_log)
        assert conn.execute("SELECT count(*) FROM staging.stg_customers").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM marts.customers_overview").fetchone()[0] > 0
    checks = assert_runs_clean(machines[0], runs=len(runs) + 1)
    limited = sum(e.status == 429 for e in answers)
    span = answers[-1].at - answers[0].at
    print(
        f"\n{len(answers)} API answers in {span:.1f} s ({len(answers) / span:.1f}/s; "
        f"4 runs {elapsed:.1f} s; at most {peak(answers)} in one second), "
        f"{limited} of them 429 ({100 * limited / len(answers):.2f}%); {checks} check evaluations passed; "
        f"the reader queried {len(totals)} times, up to {max(totals)} of {stored} rows"
    )
    assert limited <= 0.01 * len(answers), f"{limited} of {len(answers)} answers were 429s"
    assert len(totals) >= 2 and max(totals) > 0, "the reader did not read the lake while it was written"
