"""Page objects and the walks over export feeds (continueFrom) and list endpoints (page numbers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import UnexpectedResponse

Getter = Callable[..., dict]  # (path, params, stop) -> parsed JSON object


@dataclass(frozen=True)
class ExportPage:
    """One answer of an export feed. ``requested_from`` is the ``from`` sent (None: no ``from``).

    ``data`` holds the records parsed, or (walked with ``raw_records``) mostly as their JSON text."""

    data: list = field(repr=False)
    continue_from: str
    has_more: bool
    requested_from: str | None


@dataclass(frozen=True)
class ListPage:
    """One page of a list endpoint; ``total_count`` is only known when the API sent it (page 1)."""

    data: list[dict] = field(repr=False)
    page: int
    has_more: bool
    total_count: int | None = None
    page_size: int | None = None


def export_pages(
    get: Getter,
    path: str,
    start: str | None,
    *,
    include_recent_changes: bool,
    stop: threading.Event | None = None,
) -> Iterator[ExportPage]:
    """Yield the pages of export feed ``path`` from ``start`` through the first ``hasMore=false``.

    ``stop`` (set by a caller that gives up early) ends the waits and retries of the request in flight."""
    frm = start
    while True:
        params: dict[str, Any] = {}
        if frm is not None:
            params["from"] = frm
        if include_recent_changes:
            params["includeRecentChanges"] = True
        page = _export_page(path, get(path, params, stop), frm)
        more, frm = page.has_more, page.continue_from
        yield page
        del page  # the caller has it: not kept here while the next one is fetched
        if not more:
            return


def list_pages(
    get: Getter, path: str, params: Mapping[str, Any] | None, *, page_size: int
) -> Iterator[ListPage]:
    """Yield pages 1, 2, ... of list endpoint ``path`` until one says ``hasMore`` is false."""
    if not 1 <= page_size <= 5000:
        raise ValueError(f"page_size must be between 1 and 5000, got {page_size}")
    number = 1
    while True:
        query = dict(params or {})
        query.update(page=number, pageSize=page_size)
        if number == 1:
            query["includeTotal"] = True
        doc = get(path, query)
        data = _data(path, doc)
        total = _field(doc, "totalCount")
        size = _field(doc, "pageSize")
        page = ListPage(
            data=data,
            page=number,
            has_more=_as_bool(_field(doc, "hasMore")),
            total_count=int(total) if total is not None else None,
            page_size=int(size) if size is not None else None,
        )
        yield page
        if not page.has_more:
            return
        number += 1


def _export_page(path: str, doc: dict, requested: str | None) -> ExportPage:
    data = _data(path, doc)
    has_more = _as_bool(_field(doc, "hasMore"))
    cont = _field(doc, "continueFrom")
    if cont is None or cont == "":
        if has_more:
            raise UnexpectedResponse(f"{path}: hasMore=true but no continueFrom; cannot go on")
        cont = requested or ""  # nothing new: stay where we are
    cont = str(cont)
    if has_more and not data and cont == requested:
        raise UnexpectedResponse(f"{path}: hasMore=true with no data and the same continueFrom; would loop")
    return ExportPage(data=data, continue_from=cont, has_more=has_more, requested_from=requested)


def _data(path: str, doc: Any) -> list[dict]:
    if not isinstance(doc, dict):
        raise UnexpectedResponse(
            f"{path} answered 200 with JSON that is not an object ({type(doc).__name__})"
        )
    data = _field(doc, "data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise UnexpectedResponse(f"{path}: 'data' is a {type(data).__name__}, expected a list")
    return data


def _field(doc: dict, name: str) -> Any:
    """``doc[name]``, tolerating other capitalisations (``HasMore``, ``hasmore``)."""
    if name in doc:
        return doc[name]
    lowered = name.lower()
    for key, value in doc.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
