"""`validate_page`: one page of API records into a validated frame and its rejected records."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from crm_pipeline.fastjson import parse_json
from crm_pipeline.page_types import Rejected, ValidatedPage
from crm_pipeline.validation.coercion import coerced
from crm_pipeline.validation.frame import build_frame
from crm_pipeline.validation.names import extra_names, name_problems
from crm_pipeline.validation.quarantine import quarantine_json, record_id
from crm_pipeline.validation.records import Typed, decode_records

if TYPE_CHECKING:
    from crm_pipeline.catalog import Endpoint


def validate_page(
    endpoint: Endpoint, records: list, *, fast: bool = True, fresh: bool = True
) -> ValidatedPage:
    """Validate one page; rows to store come back coerced, deduplicated by key (last wins).

    `records` are parsed JSON values or raw JSON texts (msgspec.Raw, from an export walk with
    `raw_records`); `fast` types the usual ones in C (crm_pipeline.validation.records, then each field
    type's whole-column fast path). `fast=False` checks every value one by one (the reference the fast
    path is tested against). `fresh=False`: the frame may share its buffers with validation's own arrays,
    for a caller that lays it out as Arrow at once and drops it (ingest.export).
    """
    objects, sources, rejected = decode_records(endpoint, records, typed=fast), records, []
    if not all(issubclass(kind, (dict, Typed)) for kind in set(map(type, objects))):  # rarely: one by one
        objects, sources = _objects_only(records, objects, rejected)

    def parsed(i: int) -> dict:  # record i as a dict, for the quarantine and the reasons
        record = objects[i]
        return record if type(record) is dict else parse_json(bytes(sources[i]))

    reasons = _misnamed(endpoint, objects)
    extra = extra_names(endpoint, objects, set(reasons))
    frame = build_frame(endpoint, objects, extra, reasons=reasons, fast=fast)
    checked = set(reasons)  # rows already refused are validated too, so their reasons are all reported
    frame = coerced(endpoint, frame, parsed, reasons=reasons)
    refused = [i for i in checked if i in frame.index]
    if refused:
        frame = frame.drop(index=refused)
    for i in sorted(reasons):
        raw = parsed(i)
        reason = "; ".join(dict.fromkeys(reasons[i]))
        rejected.append(Rejected(record_id(raw.get(endpoint.key[0])), quarantine_json(raw), reason))
    repeated = frame.duplicated(subset=list(endpoint.key), keep="last")
    # A fresh frame (`fresh`): the frame as built shares its buffers with validation's Arrow arrays, which
    # would then outlive the page and grow the loading process.
    if repeated.any():
        frame = frame[~repeated]
    elif fresh:
        frame = frame.copy()
    return ValidatedPage(frame=frame, rejected=rejected, extra_fields=list(extra), received=len(records))


def _objects_only(records: list, decoded: list, rejected: list[Rejected]) -> tuple[list, list]:
    """The decoded records that are JSON objects, and their sources; the others go to `rejected`."""
    objects, sources = [], []
    for source, record in zip(records, decoded, strict=True):
        if isinstance(record, (dict, Typed)):
            objects.append(record)
            sources.append(source)
        else:
            rejected.append(Rejected(None, quarantine_json(record), "record is not a JSON object"))
    return objects, sources


def _misnamed(endpoint: Endpoint, objects: list) -> dict[int, list[str]]:
    """The reasons so far, by record: the field names of each record that cannot become columns."""
    declared = {n.lower(): n for n in endpoint.fields}
    reasons: dict[int, list[str]] = defaultdict(list)
    dicts = [r for r in objects if type(r) is dict]  # a typed record's names are all declared ones
    if dicts and name_problems(dict.fromkeys(set().union(*dicts)), declared):  # else no record has any
        for i, record in enumerate(objects):
            problems = name_problems(record, declared) if type(record) is dict else None
            if problems:
                reasons[i].extend(problems)
    return reasons
