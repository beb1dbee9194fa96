"""The jobs the sensor and schedules launch, and which raw assets runs in progress are writing."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, AssetSelection, DagsterInstance, DagsterRunStatus, RunsFilter, define_asset_job

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.defs.servicetitan.export_assets import EXPORT_GROUP
from crm_pipeline.defs.servicetitan.list_assets import LIST_GROUP, LIST_OP

PARTITION_TAG = "dagster/partition"
EXPORT_KEYS = [AssetKey(ep.asset_key_path) for ep in EXPORT_FEEDS]
LIST_KEYS = [AssetKey(ep.asset_key_path) for ep in LIST_ENDPOINTS]
IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]

export_job = define_asset_job(
    "servicetitan_export_job",
    selection=AssetSelection.groups(EXPORT_GROUP),
    description="The export feeds (or the subset the sensor asks for), each from its stored continueFrom "
    "cursor.",
)
list_job = define_asset_job(
    "servicetitan_list_job",
    selection=AssetSelection.groups(LIST_GROUP),
    description="Every list endpoint, parents before their children; run config `full_walk` per asset.",
)

# Runs that name no asset selection write every asset of their job.
_JOB_KEYS = {export_job.name: set(EXPORT_KEYS), list_job.name: set(LIST_KEYS)}


def list_run_config(full_walk: bool) -> dict:
    """Run config of `list_job` setting `ListConfig.full_walk` (on the multi-asset of every list endpoint)."""
    return {"ops": {LIST_OP: {"config": {"full_walk": full_walk}}}}


def runs_in_progress(
    instance: DagsterInstance, keys: Iterable[AssetKey], tenant: str | None = None
) -> dict[AssetKey, str]:
    """Of `keys`, those a queued or running run will write (for `tenant`'s partition, if given), each with
    that run's id.

    A run without a single partition (one tenant, or a range) counts as writing every partition.
    """
    wanted, busy = set(keys), {}
    for run in instance.get_runs(filters=RunsFilter(statuses=IN_PROGRESS), limit=500):
        partition = run.tags.get(PARTITION_TAG)
        if tenant is not None and partition is not None and partition != tenant:
            continue
        if run.asset_selection is not None:
            writes = set(run.asset_selection)
        elif run.job_name.startswith("__ASSET_JOB"):
            writes = set(EXPORT_KEYS) | set(LIST_KEYS)
        else:
            writes = _JOB_KEYS.get(run.job_name, set())
        for key in writes & wanted:
            busy.setdefault(key, run.run_id)
    return busy
